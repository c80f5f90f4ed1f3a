// The output tree: a node's tree is replaced whole or not at all; an interrupted run is
// finished (COMMIT record present) or discarded (absent); one run at a time.
#include "k8s/output_tree.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "common/file_util.hpp"
#include "support/temp_dir.hpp"

namespace hwca::k8s {
namespace {
namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
  auto text = read_file(path);
  return text ? *text : "<" + text.error().message + ">";
}

void put(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(OutputTree, CommitPutsNodeTreesInPlaceWithTheirModes) {
  test::TempDir tmp;
  const std::string dir = tmp.file("out");
  std::vector<std::string> notes;
  {
    auto tree = OutputTree::open(dir, notes);
    ASSERT_TRUE(tree) << tree.error().message;
    ASSERT_TRUE(tree->write("cp1", "pki/ca.crt", "CA", 0644));
    ASSERT_TRUE(tree->write("cp1", "pki/apiserver.key", "KEY", 0600));
    ASSERT_TRUE(tree->write("w1", "kubelet.conf", "CONF", 0600));
    EXPECT_FALSE(fs::exists(dir + "/cp1")) << "visible before commit";
    EXPECT_EQ(tree->staged_nodes(), 2u);
    ASSERT_TRUE(tree->commit());
  }
  EXPECT_TRUE(notes.empty());
  EXPECT_EQ(mode_of(dir), 0700u);
  EXPECT_EQ(slurp(dir + "/cp1/pki/ca.crt"), "CA");
  EXPECT_EQ(mode_of(dir + "/cp1/pki/ca.crt"), 0644u);
  EXPECT_EQ(mode_of(dir + "/cp1/pki/apiserver.key"), 0600u);
  EXPECT_EQ(slurp(dir + "/w1/kubelet.conf"), "CONF");
  EXPECT_FALSE(fs::exists(dir + "/.hwca-staging"));
}

TEST(OutputTree, WithoutCommitNothingChanges) {
  test::TempDir tmp;
  const std::string dir = tmp.file("out");
  put(dir + "/cp1/pki/ca.crt", "OLD");
  std::vector<std::string> notes;
  {
    auto tree = OutputTree::open(dir, notes);
    ASSERT_TRUE(tree);
    ASSERT_TRUE(tree->write("cp1", "pki/ca.crt", "NEW", 0644));
    ASSERT_TRUE(tree->write("w1", "kubelet.conf", "CONF", 0600));
  }  // dropped: a failure before commit
  EXPECT_EQ(slurp(dir + "/cp1/pki/ca.crt"), "OLD");
  EXPECT_FALSE(fs::exists(dir + "/w1"));
  EXPECT_FALSE(fs::exists(dir + "/.hwca-staging"));
}

TEST(OutputTree, RestagingKeepsTheFilesItDoesNotWrite) {
  test::TempDir tmp;
  const std::string dir = tmp.file("out");
  put(dir + "/cp1/pki/ca.crt", "OLD");
  put(dir + "/cp1/notes.txt", "mine");
  std::vector<std::string> notes;
  auto tree = OutputTree::open(dir, notes);
  ASSERT_TRUE(tree);
  ASSERT_TRUE(tree->write("cp1", "pki/ca.crt", "NEW", 0644));
  ASSERT_TRUE(tree->commit());
  EXPECT_EQ(slurp(dir + "/cp1/pki/ca.crt"), "NEW");
  EXPECT_EQ(slurp(dir + "/cp1/notes.txt"), "mine");
}

TEST(OutputTree, AnInterruptedCommitIsFinishedByTheNextRun) {
  test::TempDir tmp;
  const std::string dir = tmp.file("out");
  // The state a run leaves when killed after its COMMIT record: cp1 already swapped (old
  // tree moved aside, new one in place), cp2 moved aside but not yet replaced, w1 not begun.
  put(dir + "/.hwca-staging/COMMIT", "cp1\ncp2\nw1\n");
  put(dir + "/cp1/kubelet.conf", "NEW1");
  put(dir + "/.hwca-staging/old/cp1/kubelet.conf", "OLD1");
  put(dir + "/.hwca-staging/old/cp2/kubelet.conf", "OLD2");
  put(dir + "/.hwca-staging/new/cp2/kubelet.conf", "NEW2");
  put(dir + "/w1/kubelet.conf", "OLDW");
  put(dir + "/.hwca-staging/new/w1/kubelet.conf", "NEWW");
  std::vector<std::string> notes;
  auto tree = OutputTree::open(dir, notes);
  ASSERT_TRUE(tree) << tree.error().message;
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("finished an interrupted"), std::string::npos) << notes[0];
  EXPECT_EQ(slurp(dir + "/cp1/kubelet.conf"), "NEW1");
  EXPECT_EQ(slurp(dir + "/cp2/kubelet.conf"), "NEW2");
  EXPECT_EQ(slurp(dir + "/w1/kubelet.conf"), "NEWW");
  EXPECT_FALSE(fs::exists(dir + "/.hwca-staging/old"));
  EXPECT_FALSE(fs::exists(dir + "/.hwca-staging/new"));
}

TEST(OutputTree, AnUnfinishedStagingIsDiscarded) {
  test::TempDir tmp;
  const std::string dir = tmp.file("out");
  put(dir + "/cp1/kubelet.conf", "OLD");
  put(dir + "/.hwca-staging/new/cp1/kubelet.conf", "HALF");  // no COMMIT record
  std::vector<std::string> notes;
  auto tree = OutputTree::open(dir, notes);
  ASSERT_TRUE(tree) << tree.error().message;
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("discarded"), std::string::npos) << notes[0];
  EXPECT_EQ(slurp(dir + "/cp1/kubelet.conf"), "OLD");
  EXPECT_FALSE(fs::exists(dir + "/.hwca-staging/new"));
}

TEST(OutputTree, ADamagedCommitRecordIsRefused) {
  test::TempDir tmp;
  const std::string dir = tmp.file("out");
  put(dir + "/.hwca-staging/COMMIT", "../etc\n");
  std::vector<std::string> notes;
  auto tree = OutputTree::open(dir, notes);
  ASSERT_FALSE(tree);
  EXPECT_EQ(tree.error().kind, ErrorKind::conflict);
  EXPECT_NE(tree.error().message.find("damaged"), std::string::npos) << tree.error().message;
}

TEST(OutputTree, OneRunAtATime) {
  test::TempDir tmp;
  const std::string dir = tmp.file("out");
  std::vector<std::string> notes;
  auto first = OutputTree::open(dir, notes);
  ASSERT_TRUE(first);
  auto second = OutputTree::open(dir, notes);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, ErrorKind::conflict);
  EXPECT_NE(second.error().message.find("another hwca run"), std::string::npos);
}

TEST(OutputTree, RefusesAFileAsFolder) {
  test::TempDir tmp;
  put(tmp.file("file"), "x");
  std::vector<std::string> notes;
  auto tree = OutputTree::open(tmp.file("file"), notes);
  ASSERT_FALSE(tree);
  EXPECT_EQ(tree.error().kind, ErrorKind::usage);
}

}  // namespace
}  // namespace hwca::k8s
