// The webhook writer's group commit timed without HTTP, for bench/writer.sh: parses the
// deliveries of a bodies file (bench/bodies.py), then stores them through store_group() in
// groups of a fixed size on a connection opened as the daemon's writer opens its own
// (synchronous=FULL, batched WAL writes), and prints CPU and wall time per delivery and the
// WAL pages each commit wrote. One thread, so the process's CPU time is the writer's; the
// daemon's request threads would do the parsing.
//   bench_writer DB BODIES_FILE COUNT GROUP
#include "store/sql.hpp"
#include "wabactl/delivery_writer.hpp"
#include "wabactl/store.hpp"
#include "wabactl/tenants.hpp"
#include "wabactl/webhook.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/resource.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <exception>
#include <fstream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

using namespace wabactl;

namespace {

double cpu_us() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e6 +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec);
}

double wall_us() {
  return std::chrono::duration<double, std::micro>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A decimal argument, 0 when it is not one (signs and trailing characters included).
std::size_t number(std::string_view arg) {
  std::size_t n = 0;
  auto [end, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), n);
  return ec == std::errc() && end == arg.data() + arg.size() ? n : 0;
}

int run(int argc, char** argv) {
  if (argc != 5) {
    fmt::print(stderr, "usage: bench_writer DB BODIES_FILE COUNT GROUP\n");
    return 2;
  }
  const std::string db = argv[1];
  std::size_t count = number(argv[3]);
  std::size_t group = number(argv[4]);
  if (count == 0 || group == 0 || group > DeliveryWriter::max_group) {
    fmt::print(stderr, "COUNT must be at least 1, GROUP from 1 to {}\n", DeliveryWriter::max_group);
    return 2;
  }

  std::vector<std::string> bodies;
  std::ifstream in(argv[2]);
  for (std::string line; bodies.size() < count && std::getline(in, line);) {
    bodies.push_back(line.substr(line.find('\t') + 1));
  }
  if (bodies.size() < count) {
    fmt::print(stderr, "{} holds {} deliveries, fewer than {}\n", argv[2], bodies.size(), count);
    return 1;
  }

  std::vector<DeliveryJob> jobs;
  jobs.reserve(count);
  double parse_started = cpu_us();
  for (const auto& b : bodies) {
    jobs.push_back({b, parse_delivery(b), {{"100000000000001", "bench"}}, "shared", "signature"});
  }
  double parse_cpu = cpu_us() - parse_started;

  {
    Store setup(db);
    add_tenant(setup, "bench", std::nullopt);
  }
  Store store(db, Durability::full, WalWrites::batched);
  std::size_t stored = 0;
  std::size_t commits = 0;
  double cpu_started = cpu_us();
  double wall_started = wall_us();
  for (std::size_t i = 0; i < count; i += group) {
    std::vector<const DeliveryJob*> batch;
    for (std::size_t k = i; k < std::min(count, i + group); ++k) batch.push_back(&jobs[k]);
    for (const auto& o : store_group(store, batch)) stored += o.stored ? 1 : 0;
    ++commits;
  }
  double cpu = cpu_us() - cpu_started;
  double wall = wall_us() - wall_started;
  int pages = 0;
  int highwater = 0;
  sqlite3_db_status(sqlite(store).getHandle(), SQLITE_DBSTATUS_CACHE_WRITE, &pages, &highwater, 0);

  const auto n = static_cast<double>(count);
  fmt::print("writer bench: {} deliveries in groups of {}, synchronous=FULL\n", count, group);
  fmt::print("  parse      : {:.1f} us CPU per delivery (request threads in the daemon)\n",
             parse_cpu / n);
  fmt::print("  store      : {:.1f} us CPU, {:.1f} us wall per delivery\n", cpu / n, wall / n);
  fmt::print("  commits    : {}, {:.1f} WAL pages each\n", commits,
             static_cast<double>(pages) / static_cast<double>(commits));
  if (stored != count) {
    fmt::print(stderr, "only {} of {} deliveries were stored\n", stored, count);
    return 1;
  }
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_writer: {}\n", e.what());
    return 1;
  }
}
