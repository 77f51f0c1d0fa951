// The standard process_* metrics of Prometheus client libraries (resident and virtual
// memory, CPU time, open file descriptors, start time), read from /proc at every scrape.
// The canary's memory_leak trigger reads process_resident_memory_bytes of an upstream
// mlx-serving the same way any scraper does.
#pragma once

#include "server/metrics.h"

namespace mlxs::server {

void export_process_metrics(metrics::Registry& registry);

}  // namespace mlxs::server
