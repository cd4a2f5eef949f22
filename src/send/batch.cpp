// Batch files (CSV with a header row, or JSON Lines) and the concurrent batch runner.
#include "wabactl/identity.hpp"
#include "wabactl/send.hpp"
#include "wabactl/send_request.hpp"
#include "wabactl/util.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <set>
#include <sys/stat.h>
#include <thread>

namespace wabactl {
namespace {

using nlohmann::json;

// One record of a batch file: its fields (CSV cells or a JSON object), and where it starts.
struct Record {
  std::size_t line = 0;
  std::optional<TextFields> cells;
  nlohmann::json object; ///< a JSON Lines row
  std::string error;
};

// JSON Lines rows may give these as numbers: a spreadsheet export writes phone numbers and
// keys as numbers, and body parameters are often amounts.
const std::set<std::string, std::less<>>& jsonl_numbers() {
  static const std::set<std::string, std::less<>> names = {"to", "contact_id", "idempotency_key",
                                                           "body_params"};
  return names;
}

bool is_body_n(const std::string& name, std::size_t* n = nullptr) {
  if (name.size() < 5 || name.rfind("body", 0) != 0 || name.size() > 7) return false;
  std::size_t v = 0;
  for (char c : name.substr(4)) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::size_t>(c - '0');
  }
  if (v == 0 || name[4] == '0') return false;
  if (n != nullptr) *n = v;
  return true;
}

// RFC 4180: fields separated by commas, records by CRLF or LF; a quoted field may hold
// commas, newlines and doubled quotes. Returns records of raw fields with their first line.
struct CsvRecord {
  std::size_t line;
  std::vector<std::string> fields;
  std::string error;
};

std::vector<CsvRecord> parse_csv(const std::string& data, const BatchLimits& limits) {
  std::vector<CsvRecord> out;
  std::size_t i = 0, line = 1;
  if (data.rfind("\xEF\xBB\xBF", 0) == 0) i = 3; // a BOM from spreadsheet exports
  while (i < data.size()) {
    CsvRecord rec{line, {}, {}};
    std::string field;
    bool in_quotes = false, was_quoted = false, done = false;
    std::size_t start = i;
    while (i < data.size() && !done) {
      char c = data[i];
      if (in_quotes) {
        if (c == '"') {
          if (i + 1 < data.size() && data[i + 1] == '"') {
            field.push_back('"');
            i += 2;
            continue;
          }
          in_quotes = false;
          ++i;
          continue;
        }
        if (c == '\n') ++line;
        field.push_back(c);
        ++i;
        continue;
      }
      switch (c) {
      case '"':
        if (field.empty() && !was_quoted) {
          in_quotes = was_quoted = true;
        } else if (rec.error.empty()) {
          rec.error = "a quote inside an unquoted field (quote the whole field and double it)";
        }
        ++i;
        break;
      case ',':
        rec.fields.push_back(std::move(field));
        field.clear();
        was_quoted = false;
        ++i;
        break;
      case '\r':
        if (i + 1 < data.size() && data[i + 1] == '\n') ++i;
        [[fallthrough]];
      case '\n':
        ++i;
        ++line;
        done = true;
        break;
      default:
        if (was_quoted && rec.error.empty()) rec.error = "text after a closing quote";
        field.push_back(c);
        ++i;
        break;
      }
      if (field.size() > limits.max_field_bytes && rec.error.empty()) {
        rec.error = fmt::format("a field is longer than {} bytes", limits.max_field_bytes);
      }
      if (i - start > limits.max_record_bytes) {
        throw Error(Exit::usage, fmt::format("line {}: a record is longer than {} bytes (an "
                                             "unclosed quote?)",
                                             rec.line, limits.max_record_bytes));
      }
    }
    if (in_quotes) {
      throw Error(Exit::usage, fmt::format("line {}: a quoted field is never closed", rec.line));
    }
    rec.fields.push_back(std::move(field));
    bool blank = rec.fields.size() == 1 && rec.fields[0].empty() && !was_quoted;
    if (!blank) out.push_back(std::move(rec));
  }
  return out;
}

std::vector<Record> csv_records(const std::string& data, const BatchLimits& limits) {
  auto raw = parse_csv(data, limits);
  if (raw.empty()) throw Error(Exit::usage, "the batch file is empty (it needs a header row)");
  const CsvRecord& header = raw.front();
  if (!header.error.empty()) throw Error(Exit::usage, "line 1: the header row: " + header.error);
  std::vector<std::string> names;
  std::set<std::string> seen;
  bool body_columns = false;
  for (const auto& h : header.fields) {
    std::string name(trim(h));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (send_fields().count(name) == 0 && !is_body_n(name)) {
      throw Error(Exit::usage,
                  fmt::format("unknown column '{}' in the header row", h.substr(0, 64)),
                  fmt::format("columns: {}, and body1, body2, … in place of body_params",
                              fmt::join(send_fields(), ", ")));
    }
    if (!seen.insert(name).second) {
      throw Error(Exit::usage, fmt::format("column '{}' appears twice in the header row", name));
    }
    body_columns = body_columns || is_body_n(name);
    names.push_back(name);
  }
  if (seen.count("to") == 0) throw Error(Exit::usage, "the header row has no 'to' column");
  if (body_columns && seen.count("body_params") != 0) {
    throw Error(Exit::usage, "use either body_params or body1, body2, … columns, not both");
  }
  if (raw.size() - 1 > limits.max_rows) {
    throw Error(Exit::usage, fmt::format("the batch has {} rows; at most {} are allowed",
                                         raw.size() - 1, limits.max_rows));
  }
  std::vector<Record> out;
  for (std::size_t r = 1; r < raw.size(); ++r) {
    Record rec;
    rec.line = raw[r].line;
    rec.error = raw[r].error;
    if (rec.error.empty() && raw[r].fields.size() != names.size()) {
      rec.error =
          fmt::format("{} fields where the header has {}", raw[r].fields.size(), names.size());
    }
    if (rec.error.empty()) {
      TextFields& cells = rec.cells.emplace(TextFields::Style::column);
      std::map<std::size_t, std::string> numbered;
      for (std::size_t f = 0; f < names.size(); ++f) {
        std::size_t n = 0;
        if (is_body_n(names[f], &n)) {
          if (!raw[r].fields[f].empty()) numbered[n] = raw[r].fields[f];
        } else if (!raw[r].fields[f].empty()) {
          cells.set(names[f], raw[r].fields[f]);
        }
      }
      if (!numbered.empty()) {
        std::vector<std::string> params;
        for (const auto& [n, v] : numbered) {
          if (n != params.size() + 1) {
            rec.error = fmt::format("body{} is set but body{} is empty", n, params.size() + 1);
            break;
          }
          params.push_back(v);
        }
        cells.set_list("body_params", std::move(params));
      }
    }
    out.push_back(std::move(rec));
  }
  return out;
}

std::vector<Record> jsonl_records(const std::string& data, const BatchLimits& limits) {
  std::vector<Record> out;
  std::size_t pos = 0, line = 0;
  while (pos < data.size()) {
    std::size_t end = data.find('\n', pos);
    if (end == std::string::npos) end = data.size();
    ++line;
    std::string_view text(data.data() + pos, end - pos);
    pos = end + 1;
    if (line == 1 && text.rfind("\xEF\xBB\xBF", 0) == 0) text.remove_prefix(3);
    if (trim(text).empty()) continue;
    if (out.size() >= limits.max_rows) {
      throw Error(Exit::usage, fmt::format("the batch has more than {} rows", limits.max_rows));
    }
    Record rec;
    rec.line = line;
    if (text.size() > limits.max_record_bytes) {
      rec.error = fmt::format("the line is longer than {} bytes", limits.max_record_bytes);
      out.push_back(std::move(rec));
      continue;
    }
    auto doc = json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      rec.error = "not a JSON object";
      out.push_back(std::move(rec));
      continue;
    }
    // The values' types are the decoder's to check; the keys and sizes are the file's.
    for (const auto& [k, v] : doc.items()) {
      if (send_fields().count(k) == 0) {
        rec.error = fmt::format("unknown key '{}'", k.substr(0, 64));
        break;
      }
      if (v.is_string() && v.get_ref<const std::string&>().size() > limits.max_field_bytes) {
        rec.error = fmt::format("'{}' is longer than {} bytes", k, limits.max_field_bytes);
        break;
      }
    }
    rec.object = std::move(doc);
    out.push_back(std::move(rec));
  }
  return out;
}

// Calls `use` with the record's fields, as its file format holds them.
template <class Use> void with_fields(const Record& rec, Use&& use) {
  if (rec.cells) {
    use(static_cast<const RequestFields&>(*rec.cells));
    return;
  }
  JsonFields fields(rec.object, {}, jsonl_numbers());
  use(static_cast<const RequestFields&>(fields));
}

} // namespace

std::vector<BatchRow> read_batch(const std::filesystem::path& file, const std::string& tenant,
                                 const BatchLimits& limits, const BatchCheck& check) {
  require_tenant_id(tenant);
  struct stat st {};
  if (::stat(file.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    throw Error(Exit::usage, fmt::format("'{}' is not a regular file", file.string()));
  }
  std::string data =
      read_file_limited(file, static_cast<std::size_t>(limits.max_file_bytes), "the batch file");
  std::string ext = file.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  bool jsonl = ext == ".jsonl" || ext == ".ndjson" || ext == ".json";
  if (ext != ".csv" && !jsonl) {
    auto first = data.find_first_not_of(" \t\r\n");
    jsonl = first != std::string::npos && data[first] == '{';
  }
  std::vector<Record> records = jsonl ? jsonl_records(data, limits) : csv_records(data, limits);
  if (records.empty()) throw Error(Exit::usage, "the batch file has no rows");

  std::vector<BatchRow> rows;
  std::map<std::string, std::size_t> keys;
  rows.reserve(records.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    BatchRow row;
    row.row = records[i].line;
    row.error = records[i].error;
    if (row.error.empty()) {
      try {
        with_fields(records[i], [&](const RequestFields& fields) {
          SendRequest r = decode_send_request(tenant, fields);
          if (r.idempotency_key) {
            auto [it, fresh] = keys.emplace(*r.idempotency_key, row.row);
            if (!fresh) {
              throw Error(Exit::usage,
                          fmt::format("idempotency_key repeats the one of line {}", it->second));
            }
          }
          PreparedSend prepared = prepare_send(r);
          if (check) row.warning = check(prepared, fields);
          row.prepared = std::move(prepared);
        });
      } catch (const Refusal& e) {
        row.refused = e.reason();
        row.error = e.hint().empty() ? e.what() : fmt::format("{}; hint: {}", e.what(), e.hint());
      } catch (const Error& e) {
        row.error = e.what();
      }
    }
    if (!row.error.empty()) row.error = fmt::format("line {}: {}", row.row, row.error);
    rows.push_back(std::move(row));
  }
  return rows;
}

json to_json(const BatchResult& r) {
  if (r.ok) {
    json j = {{"row", r.row},
              {"ok", true},
              {"message_id",
               r.message && r.message->message_id ? json(*r.message->message_id) : json(nullptr)},
              {"status", r.message ? json(r.message->status) : json(nullptr)}};
    if (r.replayed) j["replayed"] = true;
    return j;
  }
  json j = {{"row", r.row},
            {"ok", false},
            {"error",
             {{"code", r.code ? json(*r.code) : json(nullptr)},
              {"title", r.title},
              {"details", r.details}}}};
  if (r.message) j["id"] = std::to_string(r.message->id);
  if (r.unknown) j["state"] = "unknown";
  return j;
}

namespace {

// One run of run_batch(): workers take rows in file order (claimed in the outbox a group at
// a time), send them, and hand their results back to be printed in row order.
class BatchRun {
public:
  BatchRun(SharedStore& store, const SendTarget& target, std::vector<BatchRow>& rows,
           const BatchOptions& options, Clock& clock,
           const std::function<void(const BatchResult&)>& on_result)
      : store_(store), target_(target), rows_(rows), options_(options), clock_(clock),
        on_result_(on_result), limiter_(options.rate, clock), spacer_(options.recipient_gap, clock),
        results_(rows.size()),
        // About a tenth of a second of sending ahead: one commit for many rows.
        group_(std::clamp<std::size_t>(static_cast<std::size_t>(options.rate) / 10, 1, 64)) {}

  BatchSummary run() {
    started_ = clock_.now();
    std::size_t valid = static_cast<std::size_t>(
        std::count_if(rows_.begin(), rows_.end(), [](const BatchRow& r) { return r.prepared; }));
    std::size_t workers = std::min<std::size_t>(static_cast<std::size_t>(options_.concurrency),
                                                std::max<std::size_t>(valid, 1));
    std::vector<Sender> senders;
    senders.reserve(workers);
    for (std::size_t w = 0; w < workers; ++w) {
      senders.emplace_back(store_, target_, options_.policy, clock_, &limiter_, &spacer_,
                           &uploads_);
    }
    std::vector<std::thread> threads;
    for (std::size_t w = 1; w < workers; ++w) {
      threads.emplace_back([this, &senders, w] { guarded(senders[w], w); });
    }
    guarded(senders[0], 0);
    for (auto& t : threads) t.join();
    if (failure_) std::rethrow_exception(failure_);
    summary_.credentials_rejected = rejected_.load();
    summary_.signal = signal();
    summary_.not_attempted += rows_.size() - next_row_; // left untaken after a signal
    summary_.elapsed = clock_.now() - started_;
    return summary_;
  }

private:
  enum class Kind { sent, replayed, failed, not_attempted };
  struct Settled {
    BatchResult result;
    Kind kind;
  };
  struct Item {
    std::size_t index;
    std::optional<OutboxClaim> claim; ///< none for a reply, which send() claims alone
  };

  int signal() const { return options_.policy.stop ? options_.policy.stop->load() : 0; }
  bool stopping() const { return rejected_.load() || signal() != 0; }

  // Workers open their connections 1 ms apart: 32 connects in one instant overflow a small
  // listen queue (cpp-httplib's holds 5), and each SYN the server drops costs a 1 s
  // retransmit, a request that holds its place in the rate window that long.
  void guarded(Sender& sender, std::size_t w) {
    try {
      clock_.sleep_until(started_ + std::chrono::milliseconds(w));
      while (auto item = take(sender)) send_row(sender, *item);
    } catch (...) {
      std::lock_guard lock(failure_mu_);
      if (!failure_) failure_ = std::current_exception();
      rejected_.store(true);
    }
  }

  // Records a row's result and prints every result that is next in row order.
  void settle(std::size_t index, BatchResult result, Kind kind) {
    std::lock_guard lock(out_mu_);
    results_[index] = Settled{std::move(result), kind};
    while (printed_ < results_.size() && results_[printed_]) {
      Settled& s = *results_[printed_];
      switch (s.kind) {
      case Kind::sent:
        summary_.sent++;
        break;
      case Kind::replayed:
        summary_.replayed++;
        break;
      case Kind::failed:
        summary_.failed++;
        if (s.result.unknown) summary_.unknown++;
        break;
      case Kind::not_attempted:
        summary_.not_attempted++;
        break;
      }
      on_result_(s.result);
      results_[printed_].reset();
      ++printed_;
    }
  }

  void not_attempted(std::size_t index, const std::string& why) {
    BatchResult res;
    res.row = rows_[index].row;
    res.exit = Exit::credentials;
    res.title = "not attempted";
    res.details = why;
    settle(index, std::move(res), Kind::not_attempted);
  }

  // The next row to send and its claim; nullopt when none is left, or after a signal.
  std::optional<Item> take(Sender& sender) {
    std::lock_guard lock(queue_mu_);
    if (claimed_.empty()) {
      std::vector<std::size_t> picked;
      std::vector<const PreparedSend*> sends;
      while (next_row_ < rows_.size() && sends.size() < group_ && signal() == 0) {
        // A reply (or reaction) names its message by an id the outbox resolves while it
        // claims the row: such a row is taken alone, for send() to claim and send.
        const BatchRow& next = rows_[next_row_];
        if (next.prepared && next.prepared->request.reply_to && !rejected_.load()) {
          if (!sends.empty()) break;
          return Item{next_row_++, std::nullopt};
        }
        std::size_t index = next_row_++;
        BatchRow& row = rows_[index];
        if (!row.prepared) {
          BatchResult res;
          res.row = row.row;
          res.exit = row.refused.empty() ? Exit::usage : Exit::rejected;
          res.title = row.refused.empty() ? "invalid row" : row.refused;
          res.details = row.error;
          settle(index, std::move(res), Kind::failed);
        } else if (rejected_.load()) {
          not_attempted(index, "Meta rejected the access token earlier in this batch");
        } else {
          picked.push_back(index);
          sends.push_back(&*row.prepared);
        }
      }
      if (sends.empty()) return std::nullopt;
      auto claims = sender.claim(sends);
      for (std::size_t k = 0; k < claims.size(); ++k) claimed_.push_back({picked[k], claims[k]});
    }
    Item item = claimed_.front();
    claimed_.pop_front();
    return item;
  }

  void send_row(Sender& sender, const Item& item) {
    BatchRow& row = rows_[item.index];
    if (rejected_.load()) {
      if (item.claim) {
        sender.release(*row.prepared, *item.claim, "not attempted: Meta rejected the token");
      }
      not_attempted(item.index, "Meta rejected the access token earlier in this batch");
      return;
    }
    BatchResult res;
    res.row = row.row;
    SendOutcome o;
    try {
      o = item.claim ? sender.send_claimed(*row.prepared, *item.claim) : sender.send(*row.prepared);
    } catch (const Error& e) {
      o.exit = e.code();
      o.error = e.what();
    }
    res.message = o.message;
    res.exit = o.exit;
    if (o.exit == Exit::ok) {
      res.ok = true;
      res.replayed = o.duplicate;
      settle(item.index, std::move(res), o.duplicate ? Kind::replayed : Kind::sent);
      return;
    }
    if (o.not_sent) {
      not_attempted(item.index, o.error);
      return;
    }
    if (o.exit == Exit::credentials) rejected_.store(true);
    res.unknown = o.unknown;
    if (o.meta_error && o.meta_error->code != 0) res.code = o.meta_error->code;
    if (o.meta_error) {
      res.title = o.meta_error->title;
      res.details = o.meta_error->details.empty() ? o.error : o.meta_error->details;
    } else {
      res.title = o.error;
    }
    settle(item.index, std::move(res), Kind::failed);
  }

  SharedStore& store_;
  const SendTarget& target_;
  std::vector<BatchRow>& rows_;
  const BatchOptions& options_;
  Clock& clock_;
  const std::function<void(const BatchResult&)>& on_result_;
  RateLimiter limiter_;
  RecipientSpacer spacer_;
  UploadCache uploads_;
  std::chrono::nanoseconds started_{0};
  std::atomic<bool> rejected_{false}; ///< Meta rejected the token (or a worker failed)

  std::mutex out_mu_;
  BatchSummary summary_;
  std::vector<std::optional<Settled>> results_; ///< settled, not yet printed
  std::size_t printed_ = 0;

  std::mutex queue_mu_;
  const std::size_t group_;
  std::size_t next_row_ = 0;
  std::deque<Item> claimed_;

  std::mutex failure_mu_;
  std::exception_ptr failure_;
};

} // namespace

BatchSummary run_batch(SharedStore& store, const SendTarget& target, std::vector<BatchRow>& rows,
                       const BatchOptions& options, Clock& clock,
                       const std::function<void(const BatchResult&)>& on_result) {
  if (options.concurrency < 1 || options.concurrency > 32) {
    throw Error(Exit::usage, "--concurrency must be between 1 and 32");
  }
  return BatchRun(store, target, rows, options, clock, on_result).run();
}

} // namespace wabactl
