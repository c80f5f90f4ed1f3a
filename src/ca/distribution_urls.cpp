#include "ca/distribution_urls.hpp"

#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>

#include "ca/san.hpp"
#include "common/text.hpp"

namespace hwca::ca {
namespace {

bool starts_with_nocase(const std::string& s, const std::string& prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

Status add_crl_distribution_points(X509* x, const std::vector<std::string>& urls) {
  if (urls.empty()) return {};
  std::vector<San> names;
  for (const auto& url : urls) names.push_back({SanType::uri, url});
  auto fullname = to_general_names(names);
  if (!fullname) return tl::unexpected(fullname.error());
  CRL_DIST_POINTS* points = sk_DIST_POINT_new_null();
  DIST_POINT* point = DIST_POINT_new();
  DIST_POINT_NAME* name = DIST_POINT_NAME_new();
  bool ok = points != nullptr && point != nullptr && name != nullptr;
  if (ok) {
    name->type = 0;  // fullName
    name->name.fullname = *fullname;
    point->distpoint = name;
    ok = sk_DIST_POINT_push(points, point) > 0;
    if (!ok) point->distpoint = nullptr;
  } else {
    GENERAL_NAMES_free(*fullname);
  }
  if (!ok) {
    DIST_POINT_NAME_free(name);  // frees the names when they were handed over
    DIST_POINT_free(point);
    sk_DIST_POINT_free(points);
    return fail(ErrorKind::internal, "out of memory");
  }
  ok = X509_add1_ext_i2d(x, NID_crl_distribution_points, points, 0, X509V3_ADD_REPLACE) == 1;
  sk_DIST_POINT_pop_free(points, DIST_POINT_free);
  if (!ok) return fail(ErrorKind::internal, "cannot add cRLDistributionPoints");
  return {};
}

Status add_authority_info_access(X509* x, const std::vector<std::string>& urls) {
  if (urls.empty()) return {};
  std::vector<San> names;
  for (const auto& url : urls) names.push_back({SanType::uri, url});
  auto locations = to_general_names(names);
  if (!locations) return tl::unexpected(locations.error());
  AUTHORITY_INFO_ACCESS* aia = sk_ACCESS_DESCRIPTION_new_null();
  bool ok = aia != nullptr;
  while (ok && sk_GENERAL_NAME_num(*locations) > 0) {
    ACCESS_DESCRIPTION* ad = ACCESS_DESCRIPTION_new();
    ok = ad != nullptr;
    if (ok) {
      ASN1_OBJECT_free(ad->method);
      ad->method = OBJ_nid2obj(NID_ad_ca_issuers);
      GENERAL_NAME_free(ad->location);
      ad->location = sk_GENERAL_NAME_shift(*locations);
      ok = sk_ACCESS_DESCRIPTION_push(aia, ad) > 0;
      if (!ok) ACCESS_DESCRIPTION_free(ad);
    }
  }
  GENERAL_NAMES_free(*locations);
  ok = ok && X509_add1_ext_i2d(x, NID_info_access, aia, 0, X509V3_ADD_REPLACE) == 1;
  sk_ACCESS_DESCRIPTION_pop_free(aia, ACCESS_DESCRIPTION_free);
  if (!ok) return fail(ErrorKind::internal, "cannot add authorityInfoAccess");
  return {};
}

}  // namespace

Status check_distribution_url(const std::string& url, const std::string& field) {
  const std::string shown = "'" + bounded(url, 80) + "'";
  if (url.size() > kMaxUrlLength) {
    return fail(ErrorKind::usage, field + ": URL " + shown + " is longer than " +
                                      std::to_string(kMaxUrlLength) + " characters");
  }
  for (unsigned char c : url) {
    if (c <= 0x20 || c >= 0x7f) {
      return fail(ErrorKind::usage, field + ": URL " + shown +
                                        " holds a space, a control character or non-ASCII; "
                                        "percent-encode it (%20)");
    }
  }
  size_t rest = 0;
  for (const char* scheme : {"http://", "https://", "ldap://"}) {
    if (starts_with_nocase(url, scheme)) rest = std::char_traits<char>::length(scheme);
  }
  if (rest == 0) {
    return fail(ErrorKind::usage,
                field + ": URL " + shown + " must start with http://, https:// or ldap://");
  }
  size_t host_end = url.find_first_of("/?#", rest);
  if ((host_end == std::string::npos ? url.size() : host_end) == rest) {
    return fail(ErrorKind::usage, field + ": URL " + shown + " names no host");
  }
  return {};
}

Status check_distribution_urls(const std::vector<std::string>& urls, const std::string& field) {
  if (urls.size() > kMaxUrls) {
    return fail(ErrorKind::usage, field + ": at most " + std::to_string(kMaxUrls) + " URLs, not " +
                                      std::to_string(urls.size()));
  }
  for (size_t i = 0; i < urls.size(); ++i) {
    if (auto ok = check_distribution_url(urls[i], field); !ok) return ok;
    if (std::find(urls.begin(), urls.begin() + static_cast<long>(i), urls[i]) !=
        urls.begin() + static_cast<long>(i)) {
      return fail(ErrorKind::usage, field + ": URL '" + bounded(urls[i], 80) + "' is listed twice");
    }
  }
  return {};
}

Result<std::vector<std::string>> parse_url_list(const YAML::Node& node, const std::string& where) {
  if (!node.IsSequence()) return fail(ErrorKind::usage, where + " must be a list of URLs");
  std::vector<std::string> out;
  for (const auto& item : node) {
    if (!item.IsScalar()) return fail(ErrorKind::usage, where + " must hold URLs");
    out.push_back(item.as<std::string>());
  }
  if (auto ok = check_distribution_urls(out, where); !ok) return tl::unexpected(ok.error());
  return out;
}

DistributionUrls effective_urls(const DistributionUrls& ca,
                                const std::optional<std::vector<std::string>>& profile_crl,
                                const std::optional<std::vector<std::string>>& profile_issuers) {
  return {profile_crl.value_or(ca.crl), profile_issuers.value_or(ca.ca_issuers)};
}

Status add_distribution_extensions(X509* x, const DistributionUrls& urls) {
  if (auto ok = add_crl_distribution_points(x, urls.crl); !ok) return ok;
  return add_authority_info_access(x, urls.ca_issuers);
}

}  // namespace hwca::ca
