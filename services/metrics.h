// The /metrics endpoint every service exposes (prometheus-cpp pull exposer).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace gourmet {

class MetricsServer {
 public:
  // Serves `registry` at http://LISTEN/metrics. LISTEN is HOST:PORT; port 0
  // picks a free port (see port()).
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& listen, std::shared_ptr<prometheus::Registry> registry);

  int port() const { return port_; }

 private:
  MetricsServer() = default;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

// Shorthands for the common single-series metrics.
prometheus::Counter& NewCounter(prometheus::Registry& r, const std::string& name,
                                const std::string& help, const prometheus::Labels& labels = {});
prometheus::Gauge& NewGauge(prometheus::Registry& r, const std::string& name,
                            const std::string& help, const prometheus::Labels& labels = {});

}  // namespace gourmet
