#include "cli/output.hpp"

#include <yaml-cpp/yaml.h>

#include <iostream>
#include <map>

namespace hwca::cli {

CLI::Option* add_output_option(CLI::App* cmd, OutputFormat& format,
                               const std::map<std::string, OutputFormat>& aliases) {
  std::map<std::string, OutputFormat> kNames = {
      {"text", OutputFormat::text}, {"json", OutputFormat::json}, {"yaml", OutputFormat::yaml}};
  kNames.insert(aliases.begin(), aliases.end());
  return cmd
      ->add_option("-o,--output", format,
                   "text (default, for people), json or yaml (for scripts; docs/cli.md)")
      ->transform(CLI::CheckedTransformer(kNames, CLI::ignore_case))
      ->type_name("FORMAT");
}

void add_json_alias(CLI::App* cmd, OutputFormat& format) {
  cmd->add_flag_callback(
         "--json", [&format] { format = OutputFormat::json; }, "same as -o json")
      ->group("");
}

namespace {

// Would a YAML 1.1 or 1.2 reader take this plain scalar for anything but this string?
bool needs_quotes(const std::string& s) {
  if (s.empty()) return true;
  YAML::Node probe;
  try {
    probe = YAML::Load(s);
  } catch (const YAML::Exception&) {
    return true;
  }
  if (!probe.IsScalar() || probe.Tag() != "?" || probe.Scalar() != s) return true;
  // yaml-cpp resolves types only when asked: refuse what would convert.
  bool b = false;
  double d = 0;
  if (YAML::convert<bool>::decode(probe, b) || YAML::convert<double>::decode(probe, d)) {
    return true;
  }
  static const char* const kSpecial[] = {"~",  "null", "Null", "NULL", "y",   "Y",  "n",
                                         "N",  "yes",  "Yes",  "YES",  "no",  "No", "NO",
                                         "on", "On",   "ON",   "off",  "Off", "OFF"};
  for (const char* w : kSpecial) {
    if (s == w) return true;
  }
  // Timestamps (2026-12-06, 2026-12-06T10:00:00Z) are read as dates by YAML 1.1 readers.
  return s.size() >= 10 && std::isdigit(static_cast<unsigned char>(s[0])) && s[4] == '-' &&
         s[7] == '-';
}

void emit(YAML::Emitter& out, const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::object:
      if (v.empty()) out << YAML::Flow;  // "key: {}", not a block of nothing
      out << YAML::BeginMap;
      for (const auto& [key, value] : v.items()) {
        out << YAML::Key;
        if (needs_quotes(key)) out << YAML::DoubleQuoted;
        out << key << YAML::Value;
        emit(out, value);
      }
      out << YAML::EndMap;
      break;
    case nlohmann::json::value_t::array:
      if (v.empty()) out << YAML::Flow;  // "key: []"
      out << YAML::BeginSeq;
      for (const auto& item : v) emit(out, item);
      out << YAML::EndSeq;
      break;
    case nlohmann::json::value_t::string: {
      const auto& s = v.get_ref<const std::string&>();
      if (needs_quotes(s)) out << YAML::DoubleQuoted;
      out << s;
      break;
    }
    case nlohmann::json::value_t::boolean:
      out << (v.get<bool>() ? "true" : "false");
      break;
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::discarded:
      out << YAML::Null;
      break;
    default:  // numbers: JSON's own spelling is valid YAML 1.2
      out << v.dump();
      break;
  }
}

}  // namespace

std::string to_yaml(const nlohmann::json& doc) {
  YAML::Emitter out;
  out.SetNullFormat(YAML::LowerNull);
  emit(out, doc);
  std::string text = out.c_str();
  if (text.empty() || text.back() != '\n') text += '\n';
  return text;
}

void print_output(std::ostream& out, OutputFormat format, const nlohmann::json& doc,
                  const std::function<void(std::ostream&)>& text) {
  switch (format) {
    case OutputFormat::json:
      out << doc.dump(2) << "\n";
      break;
    case OutputFormat::yaml:
      out << to_yaml(doc);
      break;
    case OutputFormat::text:
      text(out);
      break;
  }
}

void print_output(OutputFormat format, const nlohmann::json& doc,
                  const std::function<void(std::ostream&)>& text) {
  print_output(std::cout, format, doc, text);
}

}  // namespace hwca::cli
