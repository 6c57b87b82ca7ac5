// The deployment file: the issue's form, resolved paths, params as --param texts, and errors
// that name file:line:col and say what is expected.
#include <gtest/gtest.h>

#include "dist/quiescence.h"
#include "node/deployment.h"

namespace {

using bloom::rt::parse_deployment;

std::vector<std::string> errors_of(const std::string& text) {
  std::vector<std::string> errors;
  auto d = parse_deployment(text, "dir/d.toml", errors);
  EXPECT_FALSE(d.has_value());
  return errors;
}

TEST(Deployment, ParsesTheIssueForm) {
  std::vector<std::string> errors;
  auto d = parse_deployment(R"(
[node.server]                          # the node's name
program  = "server.bloom"
endpoint = "tcp://127.0.0.1:7101"
params   = { rounds = 3, rate = 0.5, whole = 2.0, verbose = true, greeting = "hi there" }
facts    = "facts/server"

[node.client]
program  = "/abs/client.bloom"
endpoint = "inproc://client"
)",
                            "dir/d.toml", errors);
  ASSERT_TRUE(d.has_value()) << (errors.empty() ? "" : errors[0]);
  ASSERT_EQ(d->nodes.size(), 2u);
  const auto& s = d->nodes[0];  // file order, not toml++'s sorted order
  EXPECT_EQ(s.name, "server");
  EXPECT_EQ(s.program, "dir/server.bloom");
  EXPECT_EQ(s.endpoint, "tcp://127.0.0.1:7101");
  EXPECT_EQ(s.facts, "dir/facts/server");
  EXPECT_EQ(s.line, 2);
  std::map<std::string, std::string> params(s.params.begin(), s.params.end());
  EXPECT_EQ(params["rounds"], "3");
  EXPECT_EQ(params["rate"], "0.5");
  EXPECT_EQ(params["whole"], "2.0");
  EXPECT_EQ(params["verbose"], "true");
  EXPECT_EQ(params["greeting"], "hi there");
  EXPECT_EQ(d->nodes[1].name, "client");
  EXPECT_EQ(d->nodes[1].program, "/abs/client.bloom");
  EXPECT_TRUE(d->nodes[1].facts.empty());
  EXPECT_TRUE(d->nodes[1].params.empty());
  EXPECT_EQ(d->find("client"), &d->nodes[1]);
  EXPECT_EQ(d->find("nobody"), nullptr);
}

TEST(Deployment, MissingProgramAndEndpointNameTheNode) {
  auto e = errors_of("[node.a]\nparams = {}\n");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0], "dir/d.toml:1:1: error: node `a` has no `program`: expected `program = \"FILE.bloom\"`");
  EXPECT_EQ(e[1], "dir/d.toml:1:1: error: node `a` has no `endpoint`: expected `endpoint = \"tcp://HOST:PORT\"`");
}

TEST(Deployment, UnknownKeysAreErrorsInFileOrder) {
  auto e = errors_of("[node.b]\nprogram = \"b.bloom\"\nendpoint = \"tcp://h:1\"\nport = 3\n\n[cluster]\nx = 1\n");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0],
            "dir/d.toml:4:1: error: unknown key `port` in node `b`: expected `program`, `endpoint`, `params`, `facts`, `data_dir`, "
            "`restart`, `public_key` or `secret_key_file`");
  EXPECT_EQ(e[1].substr(0, 18), "dir/d.toml:6:1: er");
  EXPECT_NE(e[1].find("unknown key `cluster`"), std::string::npos);
}

TEST(Deployment, DuplicateEndpoints) {
  auto e = errors_of(
      "[node.a]\nprogram = \"a.bloom\"\nendpoint = \"tcp://127.0.0.1:7000\"\n"
      "[node.b]\nprogram = \"a.bloom\"\nendpoint = \"tcp://127.0.0.1:7000\"\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], "dir/d.toml:6:12: error: node `b` has the endpoint `tcp://127.0.0.1:7000` of node `a`: each node needs its own");
}

TEST(Deployment, DuplicateEndpointsAreFoundAfterResolvingHostNames) {
  auto e = errors_of(
      "[node.a]\nprogram = \"a.bloom\"\nendpoint = \"tcp://127.0.0.1:7000\"\n"
      "[node.b]\nprogram = \"a.bloom\"\nendpoint = \"tcp://localhost:7000\"\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0],
            "dir/d.toml:6:12: error: node `b` has the endpoint `tcp://localhost:7000`, which is `tcp://127.0.0.1:7000` of node `a` "
            "(both are 127.0.0.1 port 7000): each node needs its own");
  std::vector<std::string> errors;
  EXPECT_TRUE(parse_deployment("[node.a]\nprogram = \"a.bloom\"\nendpoint = \"tcp://127.0.0.1:7000\"\n"
                               "[node.b]\nprogram = \"a.bloom\"\nendpoint = \"tcp://localhost:7001\"\n",
                               "d.toml", errors)
                  .has_value())
      << "other ports";
}

TEST(Deployment, BindEndpointResolvesTheHost) {
  std::string error;
  EXPECT_EQ(bloom::rt::bind_endpoint("tcp://localhost:7000", error), "tcp://127.0.0.1:7000");
  EXPECT_EQ(bloom::rt::bind_endpoint("tcp://127.0.0.1:7000", error), "tcp://127.0.0.1:7000");
  EXPECT_EQ(bloom::rt::bind_endpoint("tcp://[::1]:7000", error), "tcp://[::1]:7000");
  EXPECT_EQ(bloom::rt::bind_endpoint("ipc:///tmp/x", error), "ipc:///tmp/x");
  EXPECT_TRUE(error.empty()) << error;
  EXPECT_EQ(bloom::rt::bind_endpoint("tcp://no-such-host.invalid:7000", error), "");
  EXPECT_EQ(error, "the host `no-such-host.invalid` does not resolve to an address");
}

TEST(Deployment, ParamsKeepTheirTomlTypeAndPlace) {
  std::vector<std::string> errors;
  auto d = parse_deployment("[node.a]\nprogram = \"a.bloom\"\nendpoint = \"tcp://h:1\"\nparams = { nick = 5, name = \"x\" }\n", "d.toml",
                            errors);
  ASSERT_TRUE(d.has_value());
  const auto& n = d->nodes[0];
  ASSERT_EQ(n.param_sources.size(), 2u);
  EXPECT_EQ(n.endpoint_line, 3);
  EXPECT_EQ(n.endpoint_column, 12);
  for (size_t i = 0; i < 2; ++i) {
    const bool nick = n.params[i].first == "nick";
    EXPECT_EQ(n.param_sources[i].kind, nick ? bloom::rt::DeploymentNode::ParamKind::Integer : bloom::rt::DeploymentNode::ParamKind::String);
    EXPECT_EQ(n.param_sources[i].line, 4);
    EXPECT_EQ(n.param_sources[i].column, nick ? 19 : 29);
  }
}

TEST(Deployment, MaxMessageSize) {
  std::vector<std::string> errors;
  const std::string node = "[node.a]\nprogram = \"a.bloom\"\nendpoint = \"tcp://h:1\"\n";
  auto d = parse_deployment(node, "d.toml", errors);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->max_message_bytes, int64_t{64} << 20) << "64 MiB by default";
  d = parse_deployment("max_message_size = 100000\n" + node, "d.toml", errors);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->max_message_bytes, 100000);
  auto e = errors_of("max_message_size = 10\n" + node);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0],
            "dir/d.toml:1:20: error: `max_message_size` must be a number of bytes from 1024 to 1099511627776 (e.g. 67108864 for "
            "64 MiB), not 10");
  e = errors_of("max_message_size = \"64MiB\"\n" + node);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("not a string"), std::string::npos) << e[0];
}

TEST(Deployment, BadEndpoints) {
  for (const char* bad : {"http://x:1", "tcp://nohost", "tcp://h:0", "tcp://h:70000", "tcp://h:12x", "tcp://*:7000", "inproc://"}) {
    auto e = errors_of(std::string("[node.a]\nprogram = \"a.bloom\"\nendpoint = \"") + bad + "\"\n");
    ASSERT_EQ(e.size(), 1u) << bad;
    EXPECT_EQ(e[0].rfind("dir/d.toml:3:12: error: bad endpoint `" + std::string(bad) + "` for node `a`: ", 0), 0u) << e[0];
  }
  EXPECT_EQ(bloom::rt::endpoint_problem("tcp://127.0.0.1:7101"), "");
  EXPECT_EQ(bloom::rt::endpoint_problem("ipc:///tmp/x"), "");
  EXPECT_EQ(bloom::rt::endpoint_problem("tcp://localhost:1"), "");
}

TEST(Deployment, WrongTypes) {
  auto e = errors_of(
      "[node.a]\nprogram = 3\nendpoint = \"tcp://h:1\"\nparams = { when = 1979-05-27, xs = [[1]], ys = [1, \"a\"], zs = [\"a,b\"], ok = "
      "[1, 2] }\n");
  ASSERT_EQ(e.size(), 5u);
  EXPECT_EQ(e[0], "dir/d.toml:2:11: error: `program` of node `a` must be a string, not an integer");
  EXPECT_NE(e[1].find("param `when` of node `a` must be an integer, float, boolean, string or array, not a date or time"),
            std::string::npos);
  // Arrays are for lset params: elements of one plain kind, without commas (the --param text).
  EXPECT_NE(e[2].find("param `xs` of node `a`: an array's elements must be integers, floats, booleans or strings, not an array"),
            std::string::npos);
  EXPECT_NE(e[3].find("param `ys` of node `a`: an array's elements must be all of one kind, and a string follows an integer"),
            std::string::npos);
  EXPECT_NE(e[4].find("param `zs` of node `a`: an element cannot contain a comma (\"a,b\")"), std::string::npos);
}

TEST(Deployment, SyntaxErrorsComeFromTomlWithTheirPlace) {
  auto e = errors_of("[node.a]\nprogram = \"a.bloom\nendpoint = 1\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].rfind("dir/d.toml:2:", 0), 0u) << e[0];
  e = errors_of("[node.a]\nprogram = \"a\"\nprogram = \"b\"\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].rfind("dir/d.toml:3:", 0), 0u) << e[0];
}

TEST(Deployment, NoNodesAndBadNames) {
  auto e = errors_of("# nothing\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], "dir/d.toml:1:1: error: no nodes: expected at least one `[node.NAME]` table with `program` and `endpoint`");
  e = errors_of("node = 3\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("`node` must be a table of nodes"), std::string::npos);
  e = errors_of("[node.\"a b\"]\nprogram = \"a\"\nendpoint = \"tcp://h:1\"\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("`a b` is not a usable node name"), std::string::npos);
}

TEST(Deployment, UnreadableFile) {
  std::vector<std::string> errors;
  EXPECT_FALSE(bloom::rt::read_deployment("/nonexistent/d.toml", errors).has_value());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "/nonexistent/d.toml: error: cannot read the deployment file: no such file");
}

}  // namespace

namespace {

// Global quiescence compares counts link by link: in sum, a forged "received from a" at c would
// balance a message b -> c still on its way, and the launcher would stop while it is.
TEST(Quiescence, CountsBalanceLinkByLink) {
  using bloom::rt::Backlog;
  using bloom::rt::Heard;
  using bloom::rt::messages_on_their_way;
  using bloom::rt::NodeReport;
  std::map<std::string, NodeReport> c;
  auto receive = [&](const std::string& at, const std::string& from, uint64_t n) {
    c[at].messages.received[from] = n;
    c[at].messages.heard[from] = Heard{0, n};
  };
  c["a"].messages.sent = {{"b", 2}};
  receive("b", "a", 2);
  c["b"].messages.sent = {{"c", 1}};
  receive("c", "b", 1);
  EXPECT_TRUE(messages_on_their_way(c).empty());
  c["c"].messages = {};
  receive("c", "a", 1);  // b -> c on its way; c counted one "from a" that a never sent
  EXPECT_EQ(messages_on_their_way(c), (std::vector<Backlog>{{"a", "c", 0, 1}, {"b", "c", 1, 0}}));
  c["c"].messages = {};  // b -> c on its way
  EXPECT_EQ(messages_on_their_way(c), (std::vector<Backlog>{{"b", "c", 1, 0}}));
  receive("c", "b", 1);
  receive("c", "a", 0);  // zero entries are as good as none
  EXPECT_TRUE(messages_on_their_way(c).empty());
  c["c"].messages.heard["b"] = Heard{0, 0};  // counted, but its number not heard: a gap
  EXPECT_EQ(messages_on_their_way(c), (std::vector<Backlog>{{"b", "c", 1, 0}}));
  c.erase("c");  // c is dead: what b sent to it is left out
  EXPECT_TRUE(messages_on_their_way(c).empty());
  c["a"].messages.sent["d"] = 5;  // d is not a live node
  EXPECT_TRUE(messages_on_their_way(c).empty());
}

}  // namespace
