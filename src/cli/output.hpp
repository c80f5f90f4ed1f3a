// Output for scripts: one `-o, --output text|json|yaml` on every command that lists, shows,
// creates or changes something. Text is for people and may change; the JSON and YAML
// documents are the stable interface (their schemas: docs/cli.md, "Output for scripts").
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

namespace hwca::cli {

enum class OutputFormat { text, json, yaml };

// Add "-o,--output FORMAT" (text, json or yaml; default text) to `cmd`.
// `aliases`: more names for the formats (check-expiration's old "table" for text).
CLI::Option* add_output_option(CLI::App* cmd, OutputFormat& format,
                               const std::map<std::string, OutputFormat>& aliases = {});

// A hidden "--json" flag that means "-o json" (the listings that had one keep it).
void add_json_alias(CLI::App* cmd, OutputFormat& format);

// `doc` as YAML 1.2 block style: keys in the JSON object's order, every string that a YAML
// reader would take for something else (numbers, booleans, null, dates, empty) quoted, so
// that loading it gives back exactly `doc`.
std::string to_yaml(const nlohmann::json& doc);

// Write `doc` as JSON (two-space indent, one trailing newline) or YAML, or call `text` for
// the human form.
void print_output(std::ostream& out, OutputFormat format, const nlohmann::json& doc,
                  const std::function<void(std::ostream&)>& text);

// The same on standard output; for a command that has nothing but its document to show.
void print_output(OutputFormat format, const nlohmann::json& doc,
                  const std::function<void(std::ostream&)>& text);

}  // namespace hwca::cli
