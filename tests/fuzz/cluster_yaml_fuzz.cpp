// The cluster description `hwca k8s certs` reads (src/k8s/cluster.hpp): any text parses to a
// cluster or is refused with a message; no YAML exception escapes. A cluster that parses has
// a service subnet first_service_ip accepts (parse_cluster checks it) and nodes with names.
#include <cstdint>
#include <string>

#include "fuzz/fuzz_input.hpp"
#include "k8s/cluster.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using hwca::fuzz::check;
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto cluster = hwca::k8s::parse_cluster(text, "cluster.yaml");
  if (!cluster) {
    check(!cluster.error().message.empty(), "a refusal without a message");
    return 0;
  }
  check(hwca::k8s::first_service_ip(cluster->service_subnet).has_value(),
        "a cluster whose service subnet has no first address");
  for (const auto& node : cluster->nodes) check(!node.name.empty(), "a node without a name");
  hwca::k8s::server_url(cluster->endpoint_host, cluster->endpoint_port);
  return 0;
}
