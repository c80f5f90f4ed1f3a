#include "ca/home.hpp"

#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <set>

#include "ca/database.hpp"
#include "ca/profile_yaml.hpp"
#include "common/file_util.hpp"
#include "common/text.hpp"
#include "common/uri.hpp"

namespace hwca::ca {
namespace {

constexpr const char* kConfigFile = "config.yaml";

// A path inside the home, of printable characters: no control character (YAML folds or
// trims line breaks, so such a name would not survive the file being written back).
bool safe_relative(const std::string& p) {
  if (p.empty() || p[0] == '/' || p.find("..") != std::string::npos) return false;
  for (unsigned char ch : p) {
    if (ch < 0x20 || ch == 0x7f) return false;
  }
  return true;
}

Result<std::string> scalar(const YAML::Node& node, const std::string& where) {
  if (!node.IsScalar()) return fail(ErrorKind::usage, where + " must be a string");
  return node.as<std::string>();
}

Result<bool> boolean(const YAML::Node& node, const std::string& where) {
  if (node.IsScalar()) {
    const std::string v = node.as<std::string>();
    if (v == "true") return true;
    if (v == "false") return false;
  }
  return fail(ErrorKind::usage, where + " must be true or false");
}

Status check(const Config& c, const std::string& source) {
  for (const auto& [name, ca] : c.cas) {
    std::string where = source + ": CA '" + printable(name) + "'";
    if (!valid_ca_name(name)) {
      return fail(ErrorKind::usage, where + ": a CA name is 1-64 of a-z, 0-9 and '-'");
    }
    auto uri = parse_uri(ca.key);
    if (!uri) return fail(ErrorKind::usage, where + ": key: " + uri.error().message);
    if (uri->query_attr("pin-value")) {
      return fail(ErrorKind::usage, where +
                                        ": the key URI carries pin-value; a PIN never goes "
                                        "in the configuration (use pin-source=)");
    }
    if (auto file = uri->path_attr("file");
        uri->scheme == "tpm2" && file && !file->starts_with("/")) {
      return fail(ErrorKind::usage, where +
                                        ": key: a TPM key file is named by its absolute "
                                        "path here (hwca may run from any folder)");
    }
    if (auto ok = check_distribution_urls(ca.urls.crl, where + ": crlDistributionPoints"); !ok) {
      return ok;
    }
    if (auto ok = check_distribution_urls(ca.urls.ca_issuers, where + ": issuingCertificateURLs");
        !ok) {
      return ok;
    }
    if (!safe_relative(ca.cert)) {
      return fail(ErrorKind::usage,
                  where + ": cert must be a path inside the home, without control characters");
    }
    if (!ca.parent.empty() && c.cas.count(ca.parent) == 0) {
      return fail(ErrorKind::usage,
                  where + ": parent '" + printable(ca.parent) + "' is not defined");
    }
  }
  for (const auto& [name, ca] : c.cas) {  // no cycles in the parent chain
    std::set<std::string> seen{name};
    for (std::string p = ca.parent; !p.empty(); p = c.cas.at(p).parent) {
      if (!seen.insert(p).second) {
        return fail(ErrorKind::usage, source + ": CA '" + name + "' is its own ancestor");
      }
    }
  }
  if (is_postgresql_url(c.database)) {
    if (auto ok = check_database_target(c.database); !ok) {
      return fail(ErrorKind::usage, source + ": database: " + ok.error().message);
    }
  } else if (!safe_relative(c.database)) {
    return fail(ErrorKind::usage, source +
                                      ": database must be a path inside the home, without "
                                      "control characters, or a postgresql:// URL");
  }
  if (!safe_relative(c.audit_log)) {
    return fail(ErrorKind::usage, source +
                                      ": database and auditLog must be paths inside the home, "
                                      "without control characters");
  }
  return {};
}

// One CA's mapping of config.yaml (or of the shared database's ca_definitions).
Result<CaEntry> parse_ca_entry(const YAML::Node& node, const std::string& where) {
  if (!node.IsMap()) return fail(ErrorKind::usage, where + " must be a mapping");
  if (auto ok = unique_keys(node, where); !ok) return tl::unexpected(ok.error());
  CaEntry e;
  for (const auto& field : node) {
    std::string f = field.first.as<std::string>();
    if (f == "renewalKeyChange") {
      auto b = boolean(field.second, where + ": renewalKeyChange");
      if (!b) return tl::unexpected(b.error());
      e.renewal_key_change = *b;
      continue;
    }
    if (f == "crlDistributionPoints" || f == "issuingCertificateURLs") {
      auto urls = parse_url_list(field.second, where + ": " + f);
      if (!urls) return tl::unexpected(urls.error());
      (f == "crlDistributionPoints" ? e.urls.crl : e.urls.ca_issuers) = std::move(*urls);
      continue;
    }
    auto v = scalar(field.second, where + ": " + f);
    if (!v) return tl::unexpected(v.error());
    if (f == "key")
      e.key = *v;
    else if (f == "cert")
      e.cert = *v;
    else if (f == "parent")
      e.parent = *v;
    else
      return fail(ErrorKind::usage, where + ": unknown field '" + printable(f) + "'");
  }
  if (e.key.empty() || e.cert.empty()) return fail(ErrorKind::usage, where + " needs key and cert");
  return e;
}

void emit_ca_entry(YAML::Emitter& out, const CaEntry& ca) {
  out << YAML::BeginMap;
  out << YAML::Key << "key" << YAML::Value << ca.key;
  out << YAML::Key << "cert" << YAML::Value << ca.cert;
  if (!ca.parent.empty()) out << YAML::Key << "parent" << YAML::Value << ca.parent;
  if (ca.renewal_key_change) out << YAML::Key << "renewalKeyChange" << YAML::Value << true;
  if (!ca.urls.crl.empty()) {
    out << YAML::Key << "crlDistributionPoints" << YAML::Value << ca.urls.crl;
  }
  if (!ca.urls.ca_issuers.empty()) {
    out << YAML::Key << "issuingCertificateURLs" << YAML::Value << ca.urls.ca_issuers;
  }
  out << YAML::EndMap;
}

}  // namespace

bool valid_ca_name(const std::string& name) {
  if (name.empty() || name.size() > 64 || name[0] == '-') return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

Result<Config> parse_config(const std::string& text, const std::string& source) {
  Config c;
  if (auto ok = check_yaml_text(text, source); !ok) return tl::unexpected(ok.error());
  try {
    YAML::Node root = YAML::Load(text);
    if (root.IsNull()) return c;
    if (!root.IsMap()) return fail(ErrorKind::usage, source + " must be a mapping");
    if (auto ok = unique_keys(root, source); !ok) return tl::unexpected(ok.error());
    for (const auto& item : root) {
      std::string key = item.first.as<std::string>();
      if (key == "database") {
        auto v = scalar(item.second, source + ": database");
        if (!v) return tl::unexpected(v.error());
        c.database = *v;
      } else if (key == "auditLog") {
        auto v = scalar(item.second, source + ": auditLog");
        if (!v) return tl::unexpected(v.error());
        c.audit_log = *v;
      } else if (key == "cas") {
        if (item.second.IsNull()) continue;
        if (!item.second.IsMap()) return fail(ErrorKind::usage, source + ": cas must be a mapping");
        if (auto ok = unique_keys(item.second, source + ": cas"); !ok) {
          return tl::unexpected(ok.error());
        }
        for (const auto& ca : item.second) {
          std::string name = ca.first.as<std::string>();
          auto e = parse_ca_entry(ca.second, source + ": CA '" + printable(name) + "'");
          if (!e) return tl::unexpected(e.error());
          c.cas[name] = std::move(*e);
        }
      } else if (key == "profiles") {
        auto profiles = parse_profiles(item.second, source);
        if (!profiles) return tl::unexpected(profiles.error());
        c.profiles = std::move(*profiles);
        if (!item.second.IsNull()) c.profiles_yaml = YAML::Dump(item.second);
      } else {
        return fail(ErrorKind::usage, source + ": unknown key '" + printable(key) + "'");
      }
    }
  } catch (const YAML::Exception& e) {
    return fail(ErrorKind::usage,
                source + " line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (auto ok = check(c, source); !ok) return tl::unexpected(ok.error());
  return c;
}

std::string emit_config(const Config& c) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "database" << YAML::Value << c.database;
  out << YAML::Key << "auditLog" << YAML::Value << c.audit_log;
  out << YAML::Key << "cas" << YAML::Value << YAML::BeginMap;
  for (const auto& [name, ca] : c.cas) {
    out << YAML::Key << name << YAML::Value;
    emit_ca_entry(out, ca);
  }
  out << YAML::EndMap;
  if (!c.profiles_yaml.empty()) {
    out << YAML::Key << "profiles" << YAML::Value << YAML::Load(c.profiles_yaml);
  }
  out << YAML::EndMap;
  return std::string("# hwca CA home: the CAs and their key URIs. No private key is kept here.\n") +
         out.c_str() + "\n";
}

std::string default_home() {
  if (::geteuid() == 0) return "/var/lib/hwca";
  const char* xdg = std::getenv("XDG_DATA_HOME");
  if (xdg != nullptr && *xdg == '/') return std::string(xdg) + "/hwca";
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : ".") + "/.local/share/hwca";
}

std::string resolve_home(const std::string& option) {
  if (!option.empty()) return option;
  const char* env = std::getenv("HWCA_HOME");
  if (env != nullptr && *env != '\0') return env;
  return default_home();
}

Result<Home> Home::open(const std::string& dir, bool create) {
  Home h;
  h.dir_ = dir;
  std::string config_path = h.path(kConfigFile);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (!create) {
      return fail(ErrorKind::not_found, "no CA home at " + dir +
                                            " (make one with 'hwca ca init', "
                                            "or choose it with --home or HWCA_HOME)");
    }
    if (::mkdir(dir.c_str(), 0700) != 0) {
      return fail(ErrorKind::io, "cannot create CA home " + dir + ": " + error_text(errno));
    }
  } else if (!S_ISDIR(st.st_mode)) {
    return fail(ErrorKind::usage, "CA home " + dir + " is not a folder");
  }
  auto text = read_file(config_path, 1 << 20);
  if (!text) {
    if (text.error().kind != ErrorKind::not_found || !create) return tl::unexpected(text.error());
    if (auto ok = h.save(Config{}); !ok) return tl::unexpected(ok.error());
    return h;
  }
  auto config = parse_config(*text, config_path);
  if (!config) return tl::unexpected(config.error());
  h.config_ = std::move(*config);
  return h;
}

std::string Home::database_target() const {
  return is_postgresql_url(config_.database) ? config_.database : path(config_.database);
}

Result<std::string> Home::make_ca_folder(const std::string& ca_name) const {
  const std::string folder = "cas/" + ca_name;
  for (const std::string& dir : {path("cas"), path(folder)}) {
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return fail(ErrorKind::io, "cannot create " + dir + ": " + error_text(errno));
    }
  }
  return folder;
}

Status Home::save(const Config& config) {
  if (auto ok = check(config, path(kConfigFile)); !ok) return ok;
  Config own = config;
  for (const auto& [name, pem] : shared_) own.cas.erase(name);
  if (auto ok = write_file_atomic(path(kConfigFile), emit_config(own), 0600); !ok) return ok;
  config_ = config;
  return {};
}

std::string ca_entry_yaml(const CaEntry& entry) {
  YAML::Emitter out;
  emit_ca_entry(out, entry);
  return std::string(out.c_str()) + "\n";
}

Status Home::adopt_shared(const std::vector<SharedCa>& cas, const std::string& source) {
  Config merged = config_;
  std::map<std::string, std::string> shared = shared_;
  for (const auto& ca : cas) {
    const std::string where = source + ": CA '" + printable(ca.name) + "'";
    if (shared.count(ca.name) == 0 && merged.cas.count(ca.name) != 0) {
      return fail(ErrorKind::conflict, where + " is also a CA of " + path(kConfigFile) +
                                           ": rename or remove one of them");
    }
    if (auto ok = check_yaml_text(ca.entry_yaml, where); !ok) return ok;
    try {
      auto entry = parse_ca_entry(YAML::Load(ca.entry_yaml), where);
      if (!entry) return tl::unexpected(entry.error());
      merged.cas[ca.name] = std::move(*entry);
    } catch (const YAML::Exception& e) {
      return fail(ErrorKind::usage, where + ": " + e.msg);
    }
    shared[ca.name] = ca.cert_pem;
  }
  if (auto ok = check(merged, source); !ok) return ok;
  config_ = std::move(merged);
  shared_ = std::move(shared);
  return {};
}

Status Home::adopt_shared_profiles(const std::string& yaml, const std::string& source) {
  const std::string where = source + ": the shared profiles";
  if (auto ok = check_yaml_text(yaml, where); !ok) return ok;
  Config merged = config_;
  for (const auto& name : shared_profiles_) merged.profiles.erase(name);
  std::set<std::string> names;
  try {
    auto shared = yaml.empty() ? Result<std::map<std::string, Profile>>{}
                               : parse_profiles(YAML::Load(yaml), where);
    if (!shared) return tl::unexpected(shared.error());
    for (auto& [name, profile] : *shared) {
      names.insert(name);
      if (merged.profiles.count(name) != 0) {
        return fail(ErrorKind::conflict, where + ": profile '" + printable(name) +
                                             "' is also a profile of " + path(kConfigFile) +
                                             ": rename or remove one of them");
      }
      merged.profiles[name] = std::move(profile);
    }
  } catch (const YAML::Exception& e) {
    return fail(ErrorKind::usage, where + ": " + e.msg);
  }
  if (auto ok = check(merged, source); !ok) return ok;
  config_ = std::move(merged);
  shared_profiles_ = std::move(names);
  return {};
}

const std::string* Home::shared_cert_pem(const std::string& name) const {
  auto it = shared_.find(name);
  return it == shared_.end() ? nullptr : &it->second;
}

}  // namespace hwca::ca
