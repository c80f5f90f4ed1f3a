// The fuzz targets' main in the ordinary build (ctest fuzz.<name>): runs
// LLVMFuzzerTestOneInput once over every file of the directories (or files) given, in name
// order, as libFuzzer would run a crash input. A directory that does not exist is skipped (a
// target may have no regression inputs yet); no input at all is a failure, so that a corpus
// that went missing cannot pass.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

namespace fs = std::filesystem;

std::vector<fs::path> inputs_of(const fs::path& arg) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (fs::is_regular_file(arg, ec)) {
    out.push_back(arg);
  } else if (fs::is_directory(arg, ec)) {
    for (const auto& entry : fs::directory_iterator(arg)) {
      const std::string name = entry.path().filename().string();
      if (entry.is_regular_file() && !name.empty() && name[0] != '.') out.push_back(entry.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  size_t runs = 0;
  for (int i = 1; i < argc; ++i) {
    for (const auto& path : inputs_of(argv[i])) {
      std::ifstream in(path, std::ios::binary);
      std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
      if (!in.good() && !in.eof()) {
        std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
        return 1;
      }
      std::fprintf(stderr, "replay: %s\n", path.c_str());
      LLVMFuzzerTestOneInput(data.data(), data.size());
      ++runs;
    }
  }
  if (runs == 0) {
    std::fprintf(stderr, "replay: no input in any of the %d paths given\n", argc - 1);
    return 1;
  }
  std::fprintf(stderr, "replay: %zu inputs, no failure\n", runs);
  return 0;
}
