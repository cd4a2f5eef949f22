// Unit tests of what users see of kept media: listing, finding, pruning, download names and
// reading the bytes back.
#include "support/media_rows.hpp"
#include "support/support.hpp"
#include "support/temp_store.hpp"
#include "wabactl/error.hpp"
#include "wabactl/media_index.hpp"
#include "wabactl/media_queue.hpp"
#include "wabactl/util.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

using namespace wabactl;
using testsupport::insert_media_message;
using testsupport::keep_bytes;
using testsupport::MediaRow;
using testsupport::TempStore;

namespace {

std::vector<std::string> wamids(const std::vector<Message>& list) {
  std::vector<std::string> out;
  for (const auto& m : list) out.push_back(m.message_id.value_or(""));
  return out;
}

Message with_name(std::optional<std::string> filename,
                  std::optional<std::string> mime = "image/jpeg") {
  Message m;
  m.id = 42;
  m.media = MessageMedia{};
  m.media->filename = std::move(filename);
  m.media->mime_type = std::move(mime);
  return m;
}

} // namespace

TEST_CASE("media list: a tenant's messages with media, newest first, by state, bounded") {
  TempStore store({"acme", "beta"});
  insert_media_message(store, {.wamid = "wamid.P", .timestamp = "2026-01-03T00:00:00Z"});
  auto stored =
      insert_media_message(store, {.wamid = "wamid.S", .timestamp = "2026-01-02T00:00:00Z"});
  keep_bytes(store, "acme", stored, "jpeg bytes");
  insert_media_message(store, {.wamid = "wamid.F",
                               .timestamp = "2026-01-01T00:00:00Z",
                               .state = "failed",
                               .error = "media id expired"});
  insert_media_message(store, {.tenant = "beta", .wamid = "wamid.BETA"});
  testsupport::insert_outgoing(store,
                               {.tenant = "acme", .phone = "15551234567", .wamid = "wamid.T"});

  CHECK(wamids(list_media(store, "acme", {})) ==
        std::vector<std::string>{"wamid.P", "wamid.S", "wamid.F"});
  CHECK(wamids(list_media(store, "acme", {.state = "stored"})) ==
        std::vector<std::string>{"wamid.S"});
  auto failed = list_media(store, "acme", {.state = "failed"});
  REQUIRE(failed.size() == 1);
  CHECK(failed[0].media->error == "media id expired");
  CHECK(wamids(list_media(store, "acme", {.limit = 2})) ==
        std::vector<std::string>{"wamid.P", "wamid.S"});
  CHECK(wamids(list_media(store, "beta", {})) == std::vector<std::string>{"wamid.BETA"});
  CHECK(list_media(store, "gamma", {}).empty());

  for (const char* bad : {"", "Stored", "deleted", "stored "}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(list_media(store, "acme", {.state = std::string(bad)}), Error);
  }
  CHECK_THROWS_AS(list_media(store, "acme", {.limit = 0}), Error);
  CHECK_THROWS_AS(list_media(store, "acme", {.limit = max_media_list_limit + 1}), Error);
}

TEST_CASE("media find and keep: only the tenant's message, only when it has media") {
  TempStore store({"acme", "beta"});
  auto id = insert_media_message(store, {.wamid = "wamid.S", .filename = "receipt.jpg"});
  testsupport::insert_outgoing(store,
                               {.tenant = "acme", .phone = "15551234567", .wamid = "wamid.T"});
  auto kept = keep_bytes(store, "acme", id, "the bytes");

  auto m = find_media(store, "acme", std::to_string(id));
  REQUIRE(m);
  CHECK(m->media->state == "stored");
  CHECK(m->media->sha256 == kept.sha256);
  CHECK(m->media->size == 9);
  CHECK(m->media->filename == "receipt.jpg"); // Meta's name stays when none is given
  CHECK(m->media_url == "/api/whatsapp/media/" + std::to_string(id));
  CHECK(to_json(*m)["media"]["state"] == "stored");
  CHECK(find_media(store, "acme", "wamid.S"));
  CHECK_FALSE(find_media(store, "beta", "wamid.S"));
  CHECK_FALSE(find_media(store, "beta", std::to_string(id)));
  CHECK_FALSE(find_media(store, "acme", "wamid.T")); // a text has none
  CHECK_FALSE(find_media(store, "acme", "wamid.none"));
  CHECK_FALSE(find_media(store, "acme", std::string(600, '9')));

  try {
    record_kept_media(store, "beta", id, kept, std::nullopt);
    FAIL("another tenant's message was changed");
  } catch (const Error& e) {
    CHECK(e.code() == Exit::not_found);
  }
  CHECK(find_media(store, "acme", "wamid.S")->media->state == "stored");
}

TEST_CASE("media prune: old bytes go unless a message kept still shows them, the messages stay") {
  TempStore store({"acme", "beta"});
  auto old_alone =
      insert_media_message(store, {.wamid = "wamid.OLD1", .timestamp = "2026-01-01T00:00:00Z"});
  auto old_shared =
      insert_media_message(store, {.wamid = "wamid.OLD2", .timestamp = "2026-01-01T00:00:00Z"});
  auto old_same =
      insert_media_message(store, {.wamid = "wamid.OLD3", .timestamp = "2026-01-02T00:00:00Z"});
  auto recent =
      insert_media_message(store, {.wamid = "wamid.NEW", .timestamp = "2026-03-01T00:00:00Z"});
  auto beta_old = insert_media_message(
      store, {.tenant = "beta", .wamid = "wamid.B", .timestamp = "2026-01-01T00:00:00Z"});
  auto alone = keep_bytes(store, "acme", old_alone, "only here");
  auto same = keep_bytes(store, "acme", old_same, "twice in old messages");
  keep_bytes(store, "acme", old_shared, "twice in old messages");
  auto shared = keep_bytes(store, "acme", recent, "also in beta");
  keep_bytes(store, "beta", beta_old, "also in beta");
  insert_media_message(store, {.wamid = "wamid.PENDING", .timestamp = "2026-01-01T00:00:00Z"});

  // Another tenant's prune leaves acme's bytes, and bytes acme's newer message still shows.
  auto b = prune_media(store, "beta", "2026-02-01T00:00:00Z", "2026-12-03");
  CHECK(b.messages == 1);
  CHECK(b.files == 0);
  CHECK(b.shared == 1);
  CHECK(media_stored(store, shared.sha256));
  CHECK(find_media(store, "acme", "wamid.NEW")->media->state == "stored");
  auto gone = find_media(store, "beta", "wamid.B");
  REQUIRE(gone);
  CHECK(gone->media->state == "failed");
  CHECK(gone->media->error == "removed by media prune on 2026-12-03");
  CHECK_FALSE(gone->media_url);

  auto a = prune_media(store, "acme", "2026-02-01T00:00:00Z", "2026-12-03");
  CHECK(a.messages == 3);
  CHECK(a.files == 2);
  CHECK(a.bytes == static_cast<std::int64_t>(std::string("only here").size() +
                                             std::string("twice in old messages").size()));
  CHECK(a.shared == 0);
  CHECK_FALSE(media_stored(store, alone.sha256));
  CHECK_FALSE(media_stored(store, same.sha256));
  CHECK(media_stored(store, shared.sha256));
  CHECK(testsupport::query_int(store, "SELECT count(*) FROM whatsapp_messages") == 6);
  CHECK(find_media(store, "acme", "wamid.PENDING")->media->state == "pending");
  CHECK(find_media(store, "acme", "wamid.OLD1")->media->state == "failed");

  // Again: nothing left to prune.
  auto again = prune_media(store, "acme", "2026-02-01T00:00:00Z", "2026-12-03");
  CHECK(again.messages == 0);
  CHECK(again.files == 0);
  CHECK(prune_media(store, "gamma", "2030-01-01T00:00:00Z", "2026-12-03").messages == 0);
}

TEST_CASE("media download name: the sender's name made safe, else one from the message") {
  CHECK(media_download_name(with_name("receipt.jpg")) == "receipt.jpg");
  CHECK(media_download_name(with_name("../../etc/passwd")) == "passwd");
  CHECK(media_download_name(with_name("C:\\Users\\x\\evil.pdf")) == "evil.pdf");
  CHECK(media_download_name(with_name("a\"b\r\nContent-Type: x.pdf")) == "abContent-Type: x.pdf");
  CHECK(media_download_name(with_name(".bashrc")) == "bashrc");
  CHECK(media_download_name(with_name("invoice\xe2\x80\xae"
                                      "fdp.exe")) == "invoicefdp.exe");
  CHECK(media_download_name(with_name("bad\xff\xfe.pdf")) == "bad.pdf");
  CHECK(media_download_name(with_name("Rechnung März.pdf")) == "Rechnung März.pdf");
  std::string longest = media_download_name(with_name(std::string(500, 'a') + ".pdf"));
  CHECK(longest == std::string(120, 'a'));
  for (const char* nothing : {"", ".", "..", "/", "...", " ", "\"\"", "dir/"}) {
    CAPTURE(nothing);
    CHECK(media_download_name(with_name(nothing)) == "media-42.jpg");
  }
  CHECK(media_download_name(with_name(std::nullopt)) == "media-42.jpg");
  CHECK(media_download_name(with_name(std::nullopt, "audio/ogg; codecs=opus")) == "media-42.ogg");
  CHECK(media_download_name(with_name(std::nullopt, "application/x-unknown")) == "media-42.bin");
  CHECK(media_download_name(with_name(std::nullopt, std::nullopt)) == "media-42.bin");
}

TEST_CASE("media bytes read back: ranges, and export to a private file that never clobbers") {
  TempStore store({"acme"});
  auto id = insert_media_message(store, {.wamid = "wamid.S"});
  std::string bytes;
  for (int i = 0; i < 100000; ++i) bytes.push_back(static_cast<char>(i % 251));
  auto kept = keep_bytes(store, "acme", id, bytes);

  MediaReader reader(store, kept.sha256);
  CHECK(reader.size() == static_cast<std::int64_t>(bytes.size()));
  std::ostringstream part;
  reader.copy_to(part, 70000, 100);
  CHECK(part.str() == bytes.substr(70000, 100));
  std::ostringstream whole;
  reader.copy_to(whole, 0, reader.size());
  CHECK(whole.str() == bytes);

  auto out = store.dir() / "out.jpg";
  export_media(store, kept.sha256, out, false);
  CHECK(testsupport::slurp(out) == bytes);
  struct stat st {};
  REQUIRE(::stat(out.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777U) == 0600U);
  try {
    export_media(store, kept.sha256, out, false);
    FAIL("an existing file was replaced");
  } catch (const Error& e) {
    CHECK(e.code() == Exit::exists);
  }
  std::ofstream(out, std::ios::trunc) << "mine";
  CHECK_THROWS_AS(export_media(store, kept.sha256, out, false), Error);
  CHECK(testsupport::slurp(out) == "mine");
  export_media(store, kept.sha256, out, true);
  CHECK(testsupport::slurp(out) == bytes);
  for (const auto& e : std::filesystem::directory_iterator(store.dir().path())) {
    CHECK(e.path().filename().string().find(".wabactl-media-") == std::string::npos);
  }

  remove_media_file(store, kept.sha256);
  try {
    MediaReader missing(store, kept.sha256);
    FAIL("missing bytes were opened");
  } catch (const Error& e) {
    CHECK(e.code() == Exit::not_found);
  }
}

TEST_CASE("media prune racing a download or a send: bytes it removed are never recorded stored") {
  TempStore store({"acme"});
  auto pending =
      insert_media_message(store, {.wamid = "wamid.RACE", .timestamp = "2026-01-01T00:00:00Z"});
  auto job =
      claim_media_job(store, "acme", pending, "test", now_ms() / 1000, std::chrono::seconds(60));
  REQUIRE(job);
  IncomingMedia in(store);
  const std::string bytes = "the bytes a prune removes";
  in.write(bytes.data(), bytes.size());
  auto kept = in.keep();
  // A prune of other messages with the same bytes removes them after they were kept.
  remove_media_file(store, kept.sha256);
  CHECK_FALSE(record_media_stored(store, *job, kept));
  CHECK(find_media(store, "acme", "wamid.RACE")->media->state == "pending");
  CHECK(testsupport::query_int(store, "SELECT count(*) FROM media_jobs") == 1);
  CHECK(testsupport::query_int(store, "SELECT count(*) FROM events") == 0);
  CHECK(record_kept_media(store, "acme", pending, kept, std::nullopt).media->state == "pending");

  // Fetched again, the bytes are in and stay.
  IncomingMedia again(store);
  again.write(bytes.data(), bytes.size());
  auto m = record_media_stored(store, *job, again.keep());
  REQUIRE(m);
  CHECK(m->media->state == "stored");
  CHECK(media_stored(store, kept.sha256));
  CHECK(testsupport::query_int(store, "SELECT count(*) FROM media_jobs") == 0);
}
