// The feature-flag metrics of /metrics, read from the loader at every scrape. Their
// names start with the live file's observability.metric_prefix (the spec's
// mlx_serving_feature_flags by default) and they disappear while export_metrics is false,
// so both follow a reload.
#pragma once

#include "flags/feature_flag_loader.h"
#include "server/metrics.h"

namespace mlxs::server {

// `loader` must outlive `registry`'s last render().
void export_flag_metrics(metrics::Registry& registry, const flags::FeatureFlagLoader& loader);

}  // namespace mlxs::server
