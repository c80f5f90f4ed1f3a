// Unit tests for src/ca/distribution_urls.hpp: the URLs a CA names for its CRL and
// certificate, and the extensions built from them.
#include "ca/distribution_urls.hpp"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include <string>
#include <vector>

#include "common/ossl.hpp"

namespace {

using hwca::ca::check_distribution_url;
using hwca::ca::check_distribution_urls;

TEST(DistributionUrls, GoodUrlsAreTaken) {
  for (const char* url : {"http://pki.example/root.crl", "HTTPS://pki.example:8443/a?b=c",
                          "ldap://ldap.example/cn=root,o=example?certificateRevocationList",
                          "http://[2001:db8::1]/x.crl", "http://h"}) {
    EXPECT_TRUE(check_distribution_url(url, "--crl-url")) << url;
  }
}

TEST(DistributionUrls, BadUrlsAreRefusedNamingTheField) {
  for (const std::string& url : std::vector<std::string>{
           "", "ftp://h/x", "file:///x", "http//h/x", "http://", "http:///x", "https://?x",
           "http://a b/x", "http://a\tb", std::string("http://a\0b", 10), "http://caf\xc3\xa9/x",
           "http://h/" + std::string(1020, 'a')}) {
    auto ok = check_distribution_url(url, "--crl-url");
    ASSERT_FALSE(ok) << url;
    EXPECT_EQ(ok.error().kind, hwca::ErrorKind::usage) << url;
    EXPECT_EQ(ok.error().message.rfind("--crl-url: URL '", 0), 0u) << ok.error().message;
    EXPECT_EQ(ok.error().message.find_first_of(std::string("\t\n\0", 3)), std::string::npos);
  }
  EXPECT_FALSE(check_distribution_urls({"http://h/x", "http://h/x"}, "f"));
  std::vector<std::string> nine;
  for (int i = 0; i < 9; ++i) nine.push_back("http://h/" + std::to_string(i));
  EXPECT_FALSE(check_distribution_urls(nine, "f"));
  nine.pop_back();
  EXPECT_TRUE(check_distribution_urls(nine, "f"));
}

TEST(DistributionUrls, ExtensionsHoldExactlyTheUrlsAndAreNotCritical) {
  hwca::ossl::Ptr<X509> x(X509_new());
  ASSERT_TRUE(hwca::ca::add_distribution_extensions(
      x.get(), {{"http://a.example/1.crl", "ldap://b.example/cn=x"}, {"http://a.example/ca.crt"}}));
  int crit = -1;
  auto* points = static_cast<CRL_DIST_POINTS*>(
      X509_get_ext_d2i(x.get(), NID_crl_distribution_points, &crit, nullptr));
  ASSERT_NE(points, nullptr);
  EXPECT_EQ(crit, 0);
  ASSERT_EQ(sk_DIST_POINT_num(points), 1);
  const DIST_POINT* dp = sk_DIST_POINT_value(points, 0);
  ASSERT_EQ(dp->distpoint->type, 0);
  const GENERAL_NAMES* names = dp->distpoint->name.fullname;
  ASSERT_EQ(sk_GENERAL_NAME_num(names), 2);
  const GENERAL_NAME* second = sk_GENERAL_NAME_value(names, 1);
  ASSERT_EQ(second->type, GEN_URI);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(
                ASN1_STRING_get0_data(second->d.uniformResourceIdentifier))),
            "ldap://b.example/cn=x");
  EXPECT_EQ(dp->reasons, nullptr);
  EXPECT_EQ(dp->CRLissuer, nullptr);
  CRL_DIST_POINTS_free(points);
  auto* aia = static_cast<AUTHORITY_INFO_ACCESS*>(
      X509_get_ext_d2i(x.get(), NID_info_access, &crit, nullptr));
  ASSERT_NE(aia, nullptr);
  EXPECT_EQ(crit, 0);
  ASSERT_EQ(sk_ACCESS_DESCRIPTION_num(aia), 1);
  const ACCESS_DESCRIPTION* ad = sk_ACCESS_DESCRIPTION_value(aia, 0);
  EXPECT_EQ(OBJ_obj2nid(ad->method), NID_ad_ca_issuers);
  EXPECT_EQ(ad->location->type, GEN_URI);
  AUTHORITY_INFO_ACCESS_free(aia);
}

TEST(DistributionUrls, EmptyListsAddNothing) {
  hwca::ossl::Ptr<X509> x(X509_new());
  ASSERT_TRUE(hwca::ca::add_distribution_extensions(x.get(), {}));
  EXPECT_EQ(X509_get_ext_count(x.get()), 0);
}

}  // namespace
