// Where relying parties fetch what a CA publishes: its CRL (cRLDistributionPoints) and its
// own certificate (authorityInfoAccess caIssuers). They are properties of the issuing CA
// (config.yaml's CA entry, set by `hwca ca init --crl-url / --ca-issuers-url`) and go into
// every certificate that CA issues; a profile may replace either list (profile_yaml.hpp).
// hwca runs no OCSP responder, so it never names one (no AIA OCSP).
#pragma once

#include <openssl/x509.h>
#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace hwca::ca {

struct DistributionUrls {
  std::vector<std::string> crl;         // one DistributionPoint, each URL a fullName
  std::vector<std::string> ca_issuers;  // one AccessDescription (caIssuers) each
  bool operator==(const DistributionUrls&) const = default;
};

inline constexpr size_t kMaxUrlLength = 1024;
inline constexpr size_t kMaxUrls = 8;

// A URL such a list may hold: http://, https:// or ldap:// (any case), a host, then only
// printable ASCII without spaces (percent-encode the rest), at most kMaxUrlLength
// characters. The usage error names `field` ("--crl-url", "...: crlDistributionPoints").
Status check_distribution_url(const std::string& url, const std::string& field);
// Each URL checked, at most kMaxUrls, none twice.
Status check_distribution_urls(const std::vector<std::string>& urls, const std::string& field);

// A YAML list of URLs (config.yaml), checked; `where` names it in errors.
Result<std::vector<std::string>> parse_url_list(const YAML::Node& node, const std::string& where);

// The list a certificate gets: the profile's when it sets one (even empty), else the CA's.
DistributionUrls effective_urls(const DistributionUrls& ca,
                                const std::optional<std::vector<std::string>>& profile_crl,
                                const std::optional<std::vector<std::string>>& profile_issuers);

// Add cRLDistributionPoints and authorityInfoAccess (both non-critical, RFC 5280 4.2.1.13
// and 4.2.2.1) to `x`; nothing for an empty list.
Status add_distribution_extensions(X509* x, const DistributionUrls& urls);

}  // namespace hwca::ca
