#pragma once
// The send pipeline both front doors share (the CLI's `wabactl send` and the REST API's
// POST /api/whatsapp/send): validation and request shapes, media uploads, the outbox with
// idempotency keys, retries by Meta error class, rate limits, and batches.
//
// A send is recorded in whatsapp_messages (the outbox) before Meta is called and updated
// with Meta's answer. Its send_state: 'pending' (claimed by the process named in claimed_by,
// the request has not left), 'sending' (the request may have left), 'sent' (Meta accepted
// it: never sent again), 'retryable' or 'failed' (nothing was delivered: the next send with
// its key tries again) or 'unknown' (the request left and no answer came: never re-sent
// until `wabactl send --resolve` settles it).

#include "wabactl/configs.hpp"
#include "wabactl/error.hpp"
#include "wabactl/graph.hpp"
#include "wabactl/identity.hpp"
#include "wabactl/messages.hpp"
#include "wabactl/outbox.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wabactl {

class Store;
class MasterKey;
class RequestFields;
struct MarkResult;

// ---------------------------------------------------------------------------------------
// Time

/// The pipeline's time source and sleeper. Backoff, rate limits and polling all go through
/// it, so tests inject a fake that advances virtual time instead of sleeping.
class Clock {
public:
  virtual ~Clock() = default;
  /// Monotonic time since an arbitrary epoch.
  virtual std::chrono::nanoseconds now() = 0;
  /// Returns once now() >= `t`.
  virtual void sleep_until(std::chrono::nanoseconds t) = 0;
  /// Sleeps for `d` from now.
  void sleep_for(std::chrono::nanoseconds d) { sleep_until(now() + d); }
};

/// The real clock (std::chrono::steady_clock and real sleeps).
Clock& steady_clock();

/// The per-number rate limit: never more than `rate` requests in any one-second window,
/// wherever along the way Meta counts them. Like a token bucket that starts full, the first
/// `rate` grants go at once. A request holds its place in the window from its grant until a
/// second after its answer (Meta counted it at some moment in between), and a grant waits
/// while `rate` places are held. So requests that take long in transit or in a queue can
/// never crowd one second at Meta's end; a slow one holds up only its own place.
/// Thread-safe.
class RateLimiter {
public:
  /// A place in the window, held from the grant until the request's answer (or failure)
  /// is back. finish() or the destructor records that moment.
  class Grant {
  public:
    Grant() = default;
    Grant(Grant&& other) noexcept;
    Grant& operator=(Grant&& other) noexcept;
    Grant(const Grant&) = delete;
    Grant& operator=(const Grant&) = delete;
    ~Grant() { finish(); }
    /// The time the caller was released.
    std::chrono::nanoseconds at() const { return at_; }
    /// The request has been answered (or has failed) now.
    void finish();

  private:
    friend class RateLimiter;
    Grant(RateLimiter* limiter, std::chrono::nanoseconds at) : limiter_(limiter), at_(at) {}
    RateLimiter* limiter_ = nullptr;
    std::chrono::nanoseconds at_{0};
  };

  RateLimiter(int rate_per_second, Clock& clock);
  /// Waits for a place in the window.
  Grant acquire();

private:
  void finish();

  Clock& clock_;
  std::size_t rate_ = 0;
  std::size_t in_flight_ = 0;
  std::deque<std::chrono::nanoseconds> answered_; ///< answers of the last second, oldest first
  std::mutex mu_;
  std::condition_variable answer_;
};

/// Spacing of messages to the same recipient within one run (Meta's pair rate limit).
/// Thread-safe.
class RecipientSpacer {
public:
  RecipientSpacer(std::chrono::nanoseconds gap, Clock& clock);
  /// Reserves the recipient's next slot (at least `gap` after the previous one) and returns
  /// its time, without waiting for it.
  std::chrono::nanoseconds reserve(const std::string& recipient);
  /// reserve(), then sleeps until the slot.
  std::chrono::nanoseconds acquire(const std::string& recipient);
  /// Pushes the recipient's next slot to at least now + `delay` (after error 131056).
  void defer(const std::string& recipient, std::chrono::nanoseconds delay);

private:
  Clock& clock_;
  std::chrono::nanoseconds gap_;
  std::map<std::string, std::chrono::nanoseconds> next_;
  std::mutex mu_;
};

// ---------------------------------------------------------------------------------------
// What to send

enum class ContentKind {
  text,
  templated,
  image,
  video,
  audio,
  document,
  sticker,
  reaction,
  location
};
enum class HeaderKind { none, text, image, video, document };
enum class MediaKind { image, video, audio, document, sticker };

/// Exactly one message's content. Media and template headers take a URL (`http(s)://`,
/// sent as a link) or a local file path (uploaded first, sent by media id).
struct Content {
  ContentKind kind = ContentKind::text;
  std::string text;                    ///< text: the body
  bool preview_url = false;            ///< text: let WhatsApp render a link preview
  std::string media;                   ///< image|video|audio|document|sticker: URL or PATH
  std::optional<std::string> caption;  ///< image|video|document
  std::optional<std::string> filename; ///< document, or a template's document header
  std::string template_name;           ///< templated
  std::string language;                ///< templated: en_US
  HeaderKind header = HeaderKind::none;
  std::string header_value; ///< header text, or the header's URL or PATH
  std::vector<std::string> body_params;
  /// A named-parameter template's names of body_params, in the same order (empty for
  /// positional templates); set by the template check (template_check.hpp).
  std::vector<std::string> body_param_names;
  std::optional<std::string> header_param_name;           ///< the named text header's parameter
  std::vector<std::pair<int, std::string>> button_params; ///< button index → value
  /// Meta's sub_type of a button given a parameter: "url" (also OTP codes) unless the
  /// template check found a quick_reply (payload) or a copy_code (coupon code) there.
  std::map<int, std::string> button_types;
  std::string emoji; ///< reaction (empty removes it)
  double latitude = 0;
  double longitude = 0;
  std::optional<std::string> location_name;
  std::optional<std::string> location_address;
};

/// One send as a front door asks for it (unvalidated).
struct SendRequest {
  std::string tenant;
  std::string to; ///< phone number in international form or business-scoped user id
  Content content;
  std::optional<std::string> reply_to; ///< wamid or local message id
  std::optional<std::string> contact_id;
  std::optional<std::string> idempotency_key;
  std::optional<std::string> callback_data; ///< biz_opaque_callback_data, ≤ 512 bytes
  /// Send free-form content even when the customer-service window is closed.
  bool outside_window = false;
  /// Send a template without checking it against the tenant's catalogue.
  bool no_template_check = false;
};

/// A media value resolved: a link, or a checked local file with its MIME type.
struct MediaSource {
  std::string link;           ///< set for http(s) URLs
  std::filesystem::path path; ///< set for local files
  std::string mime_type;      ///< for local files (by extension)
  std::uintmax_t size = 0;    ///< for local files
  bool is_link() const { return !link.empty(); }
};

/// Whether a media value is a link (http:// or https://) rather than a local file path.
bool is_media_link(std::string_view value);

/// Resolves `value` for `kind`: an http(s) URL becomes a link; anything else must be a
/// readable regular file with an extension and size Meta accepts for `kind` (image 5 MB
/// jpeg/png; video 16 MB mp4/3gp; audio 16 MB aac/amr/mp3/m4a/ogg; document 100 MB
/// pdf/doc(x)/xls(x)/ppt(x)/txt; sticker 500 KB webp). Error(usage) otherwise; no request.
MediaSource resolve_media(const std::string& value, MediaKind kind);

/// A validated send: the recipient, Meta's request body (media to upload left out) and the
/// local file to upload first, if any.
struct PreparedSend {
  SendRequest request;
  Peer recipient;
  nlohmann::json body; ///< the JSON for POST /{phone_number_id}/messages
  std::optional<MediaSource> upload;
  nlohmann::json::json_pointer upload_at; ///< object in `body` that receives {"id": …}
  std::optional<MediaKind> upload_kind;
  std::string type;                        ///< Meta's message type (text, template, …)
  std::optional<std::string> display_text; ///< what a person reads (Message.text)
  std::optional<std::string> media_link;
};

/// Validates a request without touching the network or the database (a `--reply-to` given
/// as a local id is resolved later): recipient, content rules and limits, files. Throws
/// Error(usage) with a message naming the problem.
PreparedSend prepare_send(const SendRequest& request);

/// The `https://wa.me/<digits>?text=<url-encoded>` link for a recipient without sending
/// (no `?text=` when the content has no text). nullopt for user ids, which have no link.
std::optional<std::string> wa_me_link(const PreparedSend& prepared);

// ---------------------------------------------------------------------------------------
// Sending

/// How hard to try.
struct SendPolicy {
  int max_attempts = 5; ///< per Graph request, including the first
  std::chrono::milliseconds backoff_base{500};
  std::chrono::milliseconds backoff_cap{30000};
  /// Delays before retrying after 131056 (pair rate limit), by retry number.
  std::vector<std::chrono::seconds> pair_backoff{std::chrono::seconds(1), std::chrono::seconds(4),
                                                 std::chrono::seconds(16),
                                                 std::chrono::seconds(64)};
  /// How long a process waits for another process that holds the same idempotency key.
  std::chrono::milliseconds owner_wait{120000};
  std::chrono::milliseconds owner_poll{100};
  GraphTimeouts timeouts;
  GraphTimeouts upload_timeouts{std::chrono::milliseconds(5000), std::chrono::milliseconds(300000)};
  /// Non-zero (the signal number) once the run must stop: no request leaves after that,
  /// no retry is waited for, and what has not left is recorded as not sent.
  const std::atomic<int>* stop = nullptr;
};

/// Where a tenant sends from.
struct SendTarget {
  Config config;
  GraphTarget graph;
};

/// The tenant's active config with its token opened, or nullopt when it has none (or it
/// is inactive): the caller then falls back to a wa.me link. `key` is called only when there
/// is a config to open. Error(not_found) for an unknown tenant; Error(credentials) when the
/// token does not open.
std::optional<SendTarget> send_target(Store& store, const std::function<const MasterKey&()>& key,
                                      const std::string& tenant);
/// The same, with the config's secrets opened by `open` (the daemon's tenant cache).
std::optional<SendTarget> send_target(Store& store,
                                      const std::function<ConfigSecrets(const Config&)>& open,
                                      const std::string& tenant);

// ---------------------------------------------------------------------------------------
// Read receipts

/// Why a read receipt (or all of a mark's receipts) did not go. The local marks stay.
struct ReceiptProblem {
  enum class Kind {
    not_configured, ///< the tenant has no active config: no receipt was sent
    unavailable,    ///< the config's token cannot be used (`detail` says why): none was sent
    failed,         ///< the receipt for `wamid` failed (`meta`, else `detail`)
  };
  Kind kind = Kind::failed;
  std::string wamid;
  std::optional<MetaError> meta; ///< Meta's error, when Meta answered one
  std::string detail;            ///< the reason or transport error; may be empty
};

/// Whether a read receipt also shows the customer the typing indicator
/// (`"typing_indicator": {"type": "text"}`: up to 25 s, or until the business replies).
enum class Typing { off, on };

/// Sends Meta one read receipt per conversation `marked` covers (for its newest incoming
/// message), from the target `target` returns (called only when there is a receipt to
/// send; nullopt: the tenant has no active config), each with the typing indicator when
/// `typing` is on. Returns how many Meta took; reports each problem to `report` and never
/// throws for one, since the messages are marked read locally whatever Meta answers.
std::size_t send_read_receipts(const MarkResult& marked,
                               const std::function<std::optional<SendTarget>()>& target,
                               const std::function<void(const ReceiptProblem&)>& report,
                               Typing typing = Typing::off);

/// The Store plus the lock that serialises its use among a batch's workers.
struct SharedStore {
  explicit SharedStore(Store& s) : store(s) {}
  Store& store;
  std::mutex mu;
};

/// The outcome of one send.
struct SendOutcome {
  Exit exit = Exit::ok; ///< ok, rejected, credentials, tempfail
  /// The idempotency key's earlier send was accepted (or is unknown): nothing was sent now.
  bool duplicate = false;
  bool unknown = false;           ///< the outcome is unknown (`"state": "unknown"`)
  bool not_sent = false;          ///< stopped (SendPolicy::stop) before the request left
  std::optional<Message> message; ///< the stored message (with its error, if any)
  std::optional<MetaError> meta_error;
  std::string error; ///< one line for users when exit != ok
  std::string hint;  ///< what to do (advice_for(code) for Meta errors)
};

/// The media ids of local files already uploaded in a batch, so a file that many rows send
/// (a campaign's header image) goes to Meta once, also when rows run concurrently: the first
/// row to ask uploads it while the others wait for its id. A file is known by its path, size,
/// modification time and MIME type: one changed during the batch is uploaded again.
/// Thread-safe.
class UploadCache {
public:
  struct Key {
    std::string path;
    std::uintmax_t size = 0;
    std::int64_t modified = 0;
    std::string mime_type;
    auto operator<=>(const Key&) const = default;
  };
  /// The file's identity as it is now; nullopt when it cannot be read (it is then not cached).
  static std::optional<Key> key_of(const MediaSource& file);
  /// The file's media id; nullopt when the caller is to upload it (no other caller is), and
  /// must then call remember() or forget(). Waits while another caller uploads it.
  std::optional<std::string> find_or_claim(const Key& key);
  /// The upload claimed by find_or_claim() gave `media_id`.
  void remember(const Key& key, std::string media_id);
  /// The upload claimed by find_or_claim() failed: the next caller tries it.
  void forget(const Key& key);

private:
  std::mutex mu_;
  std::condition_variable done_;
  std::map<Key, std::optional<std::string>> ids_; ///< nullopt while its upload runs
};

/// Sends prepared messages for one tenant through one reusable connection. Use one Sender
/// per thread; they may share a SharedStore, RateLimiter, RecipientSpacer and Clock.
class Sender {
public:
  Sender(SharedStore& store, SendTarget target, SendPolicy policy, Clock& clock,
         RateLimiter* limiter = nullptr, RecipientSpacer* spacer = nullptr,
         UploadCache* uploads = nullptr);
  Sender(Sender&&) noexcept;
  ~Sender();

  /// Records the message in the outbox, uploads its file if any, sends it with retries
  /// by error class and records the answer. With an idempotency key already used by the
  /// tenant, sends nothing and returns the stored outcome (waiting for a concurrent
  /// process that holds the key). Error(not_found) when --reply-to names no message.
  SendOutcome send(const PreparedSend& prepared);

  /// Records several messages (without --reply-to) in the outbox in one transaction: a
  /// batch's group commit. Each is then sent with send_claimed() or given up with release().
  std::vector<OutboxClaim> claim(const std::vector<const PreparedSend*>& sends);
  /// Sends a message claimed with claim(), as send() does after its claim.
  SendOutcome send_claimed(const PreparedSend& prepared, const OutboxClaim& claim);
  /// Gives up an owned claim that will not be sent now: the row becomes retryable, with
  /// `why` as its error title, so the next run sends it.
  void release(const PreparedSend& prepared, const OutboxClaim& claim, const std::string& why);

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---------------------------------------------------------------------------------------
// Batches

/// Input limits of a batch file.
struct BatchLimits {
  std::uintmax_t max_file_bytes = 64u * 1024u * 1024u;
  std::size_t max_rows = 100000;
  std::size_t max_field_bytes = 16u * 1024u;
  std::size_t max_record_bytes = 256u * 1024u;
};

/// One row of a batch file: a request, or why the row is malformed.
struct BatchRow {
  std::size_t row = 0; ///< the file's line number where the row starts (a CSV header is 1)
  std::optional<PreparedSend> prepared;
  std::string error;   ///< set when the row is malformed or refused
  std::string refused; ///< why the check refused it (window_closed, template_not_sendable)
  std::optional<std::string> warning; ///< what the check said of a row it let through
};

/// The check a batch runs on each well-formed row (template_check.hpp's SendCheck::check):
/// may complete the row, returns a warning, throws Refusal to refuse it.
using BatchCheck = std::function<std::optional<std::string>(PreparedSend&, const RequestFields&)>;

/// Reads a CSV (RFC 4180, header row) or JSON Lines batch file (by extension .csv/.jsonl,
/// else by its first byte) for `tenant` and validates every row. File-level problems
/// (unreadable, too big, bad header, too many rows) throw Error(usage); a malformed row is
/// returned with its error, which names its line, and so is a row `check` refuses.
std::vector<BatchRow> read_batch(const std::filesystem::path& file, const std::string& tenant,
                                 const BatchLimits& limits = {}, const BatchCheck& check = {});

struct BatchOptions {
  int rate = 80;       ///< messages per second for the phone number
  int concurrency = 8; ///< parallel sends, each on its own connection
  std::chrono::nanoseconds recipient_gap = std::chrono::seconds(6);
  SendPolicy policy;
};

/// One row's result, as printed on stdout.
struct BatchResult {
  std::size_t row = 0; ///< the file's line number
  bool ok = false;
  bool replayed = false; ///< its idempotency key had already succeeded: nothing was sent now
  bool unknown = false;  ///< its outcome is unknown: `--resolve` settles it
  std::optional<Message> message;
  std::optional<int> code; ///< Meta's error code (none for local errors)
  std::string title;
  std::string details;
  Exit exit = Exit::ok;
};

/// The batch line of CONTRACT.md §2: {"row", "ok", "message_id", "status"} (with
/// "replayed": true for a key sent before) or {"row", "ok": false, "error": {"code", "title",
/// "details"}} (with "state": "unknown" when its outcome is unknown).
nlohmann::json to_json(const BatchResult& result);

struct BatchSummary {
  std::size_t sent = 0;
  std::size_t replayed = 0;
  std::size_t failed = 0;
  std::size_t unknown = 0;           ///< failed with an unknown outcome (also in `failed`)
  std::size_t not_attempted = 0;     ///< left out after the token was rejected or a signal
  bool credentials_rejected = false; ///< Meta rejected the token: the batch stopped
  int signal = 0;                    ///< the signal that stopped the batch (policy.stop)
  std::chrono::nanoseconds elapsed{0};
};

/// Sends the valid rows concurrently (one Sender and connection per worker), under one
/// RateLimiter for the phone number and per-recipient spacing; calls `on_result` (under a
/// lock, in row order) for every row, malformed ones included. Stops starting rows when Meta
/// rejects the token (the rest are reported as not attempted) or when options.policy.stop is
/// set: then the rows taken are settled (finished if their request left, else released as
/// not sent) and reported, and the rows not taken are counted as not attempted.
BatchSummary run_batch(SharedStore& store, const SendTarget& target, std::vector<BatchRow>& rows,
                       const BatchOptions& options, Clock& clock,
                       const std::function<void(const BatchResult&)>& on_result);

} // namespace wabactl
