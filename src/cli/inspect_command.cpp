// hwca cert inspect FILE: any certificate (or chain), request or CRL, PEM or DER, told apart
// by its content; no home, token or PIN involved.
#include <openssl/pem.h>

#include <filesystem>
#include <iostream>

#include "cli/context.hpp"
#include "cli/describe.hpp"
#include "cli/output.hpp"
#include "common/file_util.hpp"
#include "common/text.hpp"

namespace hwca::cli {
namespace {

using nlohmann::json;

struct InspectArgs {
  std::string file;
  OutputFormat output = OutputFormat::text;
};

constexpr size_t kMaxInspectBytes = 16 << 20;

json item(const char* kind, json description) {
  description["kind"] = kind;
  return description;
}

// One DER object of a known kind: the description, or null if `der` is not one.
json describe_der(const std::string& kind, const unsigned char* der, long len) {
  const unsigned char* p = der;
  if (kind == "certificate") {
    ossl::Ptr<X509> x(d2i_X509(nullptr, &p, len));
    if (x && p == der + len) return item("certificate", certificate_json(x.get()));
  } else if (kind == "certificateRequest") {
    ossl::Ptr<X509_REQ> r(d2i_X509_REQ(nullptr, &p, len));
    if (r && p == der + len) return item("certificateRequest", csr_json(r.get()));
  } else {
    ossl::Ptr<X509_CRL> c(d2i_X509_CRL(nullptr, &p, len));
    if (c && p == der + len) return item("crl", crl_json(c.get()));
  }
  return nullptr;
}

// Every certificate, request and CRL of PEM text, in order; other blocks (keys) are passed
// over unread. Null if a block is damaged.
json from_pem(const std::string& data) {
  ossl::Ptr<BIO> bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  json items = json::array();
  for (;;) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* der = nullptr;
    long len = 0;
    if (PEM_read_bio(bio.get(), &name, &header, &der, &len) != 1) {
      unsigned long e = ERR_peek_last_error();
      ERR_clear_error();
      // The end of the text; anything else is a damaged block.
      if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) break;
      return nullptr;
    }
    const std::string label = name;
    std::string kind;
    if (label == "CERTIFICATE" || label == "X509 CERTIFICATE" || label == "TRUSTED CERTIFICATE") {
      kind = "certificate";
    } else if (label == "CERTIFICATE REQUEST" || label == "NEW CERTIFICATE REQUEST") {
      kind = "certificateRequest";
    } else if (label == "X509 CRL") {
      kind = "crl";
    }
    json described;
    if (!kind.empty()) {
      if (label == "TRUSTED CERTIFICATE") {
        const unsigned char* p = der;
        ossl::Ptr<X509> x(d2i_X509_AUX(nullptr, &p, len));
        if (x) described = item("certificate", certificate_json(x.get()));
      } else {
        described = describe_der(kind, der, len);
      }
    }
    OPENSSL_cleanse(der, static_cast<size_t>(len));  // perhaps a private key
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(der);
    if (!kind.empty() && described.is_null()) return nullptr;
    if (!kind.empty()) items.push_back(std::move(described));
  }
  ERR_clear_error();
  return items;
}

// DER: one request or CRL, or one or more certificates back to back.
json from_der(const std::string& data) {
  const auto* der = reinterpret_cast<const unsigned char*>(data.data());
  const long len = static_cast<long>(data.size());
  json items = json::array();
  for (const char* kind : {"certificateRequest", "crl"}) {
    if (json one = describe_der(kind, der, len); !one.is_null()) {
      items.push_back(std::move(one));
      return items;
    }
  }
  const unsigned char* p = der;
  while (p < der + len) {
    const unsigned char* start = p;
    ossl::Ptr<X509> x(d2i_X509(nullptr, &p, static_cast<long>(der + len - start)));
    if (!x) {
      ERR_clear_error();
      return json::array();
    }
    items.push_back(item("certificate", certificate_json(x.get())));
  }
  return items;
}

Result<std::string> read_input(const std::string& path) {
  if (path != "-") {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      return fail(ErrorKind::io, "cannot read " + printable(path) + ": it is a folder");
    }
    return read_file(path, kMaxInspectBytes);
  }
  std::string data(kMaxInspectBytes + 1, '\0');
  std::cin.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<size_t>(std::cin.gcount()));
  if (data.size() > kMaxInspectBytes) {
    return fail(ErrorKind::usage, "standard input is larger than 16 MiB");
  }
  return data;
}

int inspect(const InspectArgs& args) {
  auto data = read_input(args.file);
  if (!data) return report(data.error());
  const bool pem = data->find("-----BEGIN ") != std::string::npos;
  json items = pem ? from_pem(*data) : from_der(*data);
  if (!items.is_array() || items.empty()) {
    return report(Error{ErrorKind::usage,
                        printable(args.file) + ": not a certificate, CSR or CRL (PEM or DER)"});
  }
  json doc = {{"file", args.file}, {"encoding", pem ? "pem" : "der"}, {"items", items}};
  print_output(args.output, doc, [&](std::ostream& out) {
    for (size_t i = 0; i < items.size(); ++i) {
      if (i != 0) out << "\n";
      describe_text(out, items[i]);
    }
  });
  return 0;
}

}  // namespace

void add_cert_inspect(CLI::App* cert, int& exit_code) {
  static InspectArgs args;
  auto* cmd = cert->add_subcommand(
      "inspect",
      "describe a certificate (every one of a chain), request or CRL, PEM or DER, from a file "
      "('-': standard input); needs no home, token or PIN");
  cmd->add_option("file", args.file, "the file")->required()->type_name("FILE");
  add_output_option(cmd, args.output);
  cmd->callback([&] { exit_code = inspect(args); });
}

}  // namespace hwca::cli
