// Unit tests for src/cli/output.hpp: YAML output loads back as exactly the JSON document,
// whatever the strings look like, and --output takes only the three formats.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <sstream>

#include "cli/output.hpp"

namespace {

using hwca::cli::OutputFormat;
using nlohmann::json;

// Read YAML back as JSON, typing plain scalars the way YAML 1.2's core schema does.
json from_yaml(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      json o = json::object();
      for (const auto& kv : n) o[kv.first.as<std::string>()] = from_yaml(kv.second);
      return o;
    }
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (const auto& item : n) a.push_back(from_yaml(item));
      return a;
    }
    case YAML::NodeType::Null:
      return nullptr;
    default: {
      if (n.Tag() == "!") return n.Scalar();  // quoted: always a string
      const std::string& s = n.Scalar();
      if (s == "true") return true;
      if (s == "false") return false;
      if (s == "null") return nullptr;
      try {
        size_t used = 0;
        long long i = std::stoll(s, &used);
        if (used == s.size()) return i;
      } catch (const std::exception&) {
      }
      return s;
    }
  }
}

TEST(CliOutput, YamlLoadsBackAsTheSameDocument) {
  json doc = {{"serial", "00c0ffee"},
              {"count", 3},
              {"numberLike", "12345"},
              {"octalLike", "0777"},
              {"floatLike", "1e3"},
              {"boolLike", "yes"},
              {"trueLike", "true"},
              {"nullLike", "null"},
              {"tilde", "~"},
              {"empty", ""},
              {"date", "2026-12-06T10:00:00Z"},
              {"colon", "CN=x: y"},
              {"hash", "# not a comment"},
              {"multi", "line one\nline two"},
              {"missing", nullptr},
              {"flag", false},
              {"list", json::array({"a", 1, json::object({{"k", "v"}})})},
              {"emptyList", json::array()},
              {"emptyMap", json::object()}};
  std::string yaml = hwca::cli::to_yaml(doc);
  EXPECT_EQ(from_yaml(YAML::Load(yaml)), doc) << yaml;
}

TEST(CliOutput, PlainWordsStayUnquoted) {
  EXPECT_EQ(hwca::cli::to_yaml(json{{"node", "worker-1"}}), "node: worker-1\n");
  EXPECT_EQ(hwca::cli::to_yaml(json{{"mode", "0777"}}), "mode: \"0777\"\n");
  EXPECT_EQ(hwca::cli::to_yaml(json{{"n", "y"}}), "\"n\": \"y\"\n");
  EXPECT_EQ(hwca::cli::to_yaml(json{{"sans", json::array()}, {"ext", json::object()}}),
            "ext: {}\nsans: []\n");
}

TEST(CliOutput, PrintsEachFormat) {
  json doc = {{"a", 1}};
  std::ostringstream j, y, t;
  hwca::cli::print_output(j, OutputFormat::json, doc, [](std::ostream&) { FAIL(); });
  hwca::cli::print_output(y, OutputFormat::yaml, doc, [](std::ostream&) { FAIL(); });
  hwca::cli::print_output(t, OutputFormat::text, doc, [](std::ostream& o) { o << "A is 1\n"; });
  EXPECT_EQ(json::parse(j.str()), doc);
  EXPECT_EQ(y.str(), "a: 1\n");
  EXPECT_EQ(t.str(), "A is 1\n");
}

TEST(CliOutput, OptionTakesOnlyTheThreeFormats) {
  for (const auto& [word, want] :
       {std::pair{"json", OutputFormat::json}, std::pair{"YAML", OutputFormat::yaml},
        std::pair{"text", OutputFormat::text}}) {
    CLI::App app;
    OutputFormat f = OutputFormat::text;
    hwca::cli::add_output_option(&app, f);
    app.parse(std::string("-o ") + word, false);
    EXPECT_EQ(f, want) << word;
  }
  CLI::App app;
  OutputFormat f = OutputFormat::text;
  hwca::cli::add_output_option(&app, f);
  EXPECT_THROW(app.parse("--output xml", false), CLI::ValidationError);
}

// check-expiration's old "--output table" and the listings' old "--json" keep working, and
// only where they were added.
TEST(CliOutput, OldSpellingsAreAliases) {
  CLI::App app;
  OutputFormat f = OutputFormat::json;
  hwca::cli::add_output_option(&app, f, {{"table", OutputFormat::text}});
  app.parse("--output table", false);
  EXPECT_EQ(f, OutputFormat::text);

  CLI::App listing;
  OutputFormat g = OutputFormat::text;
  hwca::cli::add_output_option(&listing, g);
  hwca::cli::add_json_alias(&listing, g);
  listing.parse("--json", false);
  EXPECT_EQ(g, OutputFormat::json);
  EXPECT_EQ(listing.help().find("--json"), std::string::npos) << "--json is hidden";
  EXPECT_THROW(listing.parse("--output table", false), CLI::ValidationError);
}

}  // namespace
