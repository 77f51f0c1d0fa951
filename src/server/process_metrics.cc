#include "server/process_metrics.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace mlxs::server {
namespace {

struct ProcStat {
  double utime_ticks = 0, stime_ticks = 0, start_ticks = 0, vsize = 0, rss_pages = 0;
  bool ok = false;
};

// /proc/self/stat: the command name may hold spaces, so fields are counted after ')'.
ProcStat read_stat() {
  ProcStat s;
  std::ifstream in("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  if (close == std::string::npos) return s;
  std::istringstream fields(text.substr(close + 2));
  std::string f;
  for (int i = 3; fields >> f; ++i) {  // field 3 is the state
    if (i == 14) s.utime_ticks = std::stod(f);
    if (i == 15) s.stime_ticks = std::stod(f);
    if (i == 22) s.start_ticks = std::stod(f);
    if (i == 23) s.vsize = std::stod(f);
    if (i == 24) {
      s.rss_pages = std::stod(f);
      s.ok = true;
      break;
    }
  }
  return s;
}

double boot_time_seconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  double value = 0;
  while (in >> key) {
    if (key == "btime" && in >> value) return value;
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

double open_fds() {
  std::error_code ec;
  double n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++n;
  return n;
}

}  // namespace

void export_process_metrics(metrics::Registry& registry) {
  registry.add_exposition_source([](metrics::Exposition& out) {
    ProcStat s = read_stat();
    if (!s.ok) return;
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
    out.family("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
               "counter");
    out.sample("process_cpu_seconds_total", {}, (s.utime_ticks + s.stime_ticks) / ticks);
    out.family("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge");
    out.sample("process_resident_memory_bytes", {}, s.rss_pages * page);
    out.family("process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge");
    out.sample("process_virtual_memory_bytes", {}, s.vsize);
    out.family("process_open_fds", "Number of open file descriptors.", "gauge");
    out.sample("process_open_fds", {}, open_fds());
    out.family("process_start_time_seconds",
               "Start time of the process since unix epoch in seconds.", "gauge");
    out.sample("process_start_time_seconds", {}, boot_time_seconds() + s.start_ticks / ticks);
  });
}

}  // namespace mlxs::server
