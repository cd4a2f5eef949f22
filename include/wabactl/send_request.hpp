#pragma once
// One decoder from a front door's request to the send pipeline's SendRequest. Every door
// (the CLI's options, a REST body, a batch row of a CSV or JSON Lines file) exposes its
// fields through RequestFields under one set of names, the batch columns (send_fields()),
// and decode_send_request() applies the same rules to all of them: which content kinds
// exist, which fields go together, what is required. Doors differ only in how a field is
// spelled and typed, and in how an error names it (`--text`, `'text'`).

#include "wabactl/send.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wabactl {

/// The field names of a request, as batch columns and JSON Lines keys name them: to, text,
/// preview_url, template, lang, header_text, header_image, header_video, header_document,
/// filename, body_params, button_params, image, video, audio, document, sticker, caption,
/// reaction, location (LAT,LON), latitude, longitude, name, address, reply_to, contact_id,
/// idempotency_key, callback_data, outside_window, no_template_check.
const std::set<std::string>& send_fields();

/// A request's fields as one door holds them, looked up by the names of send_fields().
/// Each getter returns nullopt for an absent field and throws Error(usage) naming the field
/// when it is present with a value of the wrong type.
class RequestFields {
public:
  virtual ~RequestFields() = default;
  /// Whether the field is given at all (a null JSON value is not).
  virtual bool has(std::string_view name) const = 0;
  virtual std::optional<std::string> text(std::string_view name) const = 0;
  virtual std::optional<bool> flag(std::string_view name) const = 0;
  virtual std::optional<double> number(std::string_view name) const = 0;
  /// A list of texts (body_params).
  virtual std::optional<std::vector<std::string>> texts(std::string_view name) const = 0;
  /// URL button parameters: index (0-9) → value (button_params).
  virtual std::optional<std::vector<std::pair<int, std::string>>>
  buttons(std::string_view name) const = 0;
  /// The field as this door's user writes it, for error messages: `--text`, `'text'`.
  virtual std::string label(std::string_view name) const = 0;
  /// How this door writes the field with `value`, for hints: `--lang en_US`.
  virtual std::string example(std::string_view name, std::string_view value) const;
  /// Where this door's help is, for the hint of a request without content (may be empty).
  virtual std::string help() const { return {}; }
};

/// The request `fields` ask `tenant` to send. Error(usage) naming the field for a request
/// without exactly one content kind, without a recipient, with fields that belong to another
/// kind, or with a value that does not parse. The content itself is checked by
/// prepare_send().
SendRequest decode_send_request(const std::string& tenant, const RequestFields& fields);

/// The field (a send_fields() name) of a decoded request whose media value is not an
/// http(s) URL, i.e. a local file that prepare_send() would read and upload; nullopt when
/// every media value is a URL. A door that must not read files (REST) refuses such requests.
std::optional<std::string> local_file_field(const SendRequest& request);

/// Fields held as text, as the command line and a CSV row give them. A field given once is a
/// text; a list field (a repeated option, CSV columns body1, body2, …) holds several. Flags
/// are true/false, 1/0 or yes/no; a list field given as one text is a JSON array (body_params
/// `["a","b"]`, button_params `[{"index":0,"value":"x"}]`); a button given in a list is
/// INDEX:VALUE.
class TextFields : public RequestFields {
public:
  /// How the door names a field in errors.
  enum class Style {
    option, ///< `--header-text` (underscores become dashes; lists take the singular)
    column, ///< `'header_text'`
  };
  explicit TextFields(Style style) : style_(style) {}
  /// Sets a field given once.
  void set(const std::string& name, std::string value);
  /// Sets a field given as a list.
  void set_list(const std::string& name, std::vector<std::string> values);

  bool has(std::string_view name) const override;
  std::optional<std::string> text(std::string_view name) const override;
  std::optional<bool> flag(std::string_view name) const override;
  std::optional<double> number(std::string_view name) const override;
  std::optional<std::vector<std::string>> texts(std::string_view name) const override;
  std::optional<std::vector<std::pair<int, std::string>>>
  buttons(std::string_view name) const override;
  std::string label(std::string_view name) const override;
  std::string example(std::string_view name, std::string_view value) const override;
  std::string help() const override;

private:
  struct Value {
    std::vector<std::string> items;
    bool list = false;
  };
  const Value* find(std::string_view name) const;

  Style style_;
  std::map<std::string, Value, std::less<>> values_;
};

/// Fields of a JSON object (a REST body, a JSON Lines row). By default a field is the key of
/// its name; `paths` maps a name to the dotted paths it may be found at instead, tried in
/// order (`{"lang", {"template.language", "template.lang"}}`); an object found at a path
/// that is the start of another path (`image` before `image.link`) is looked into, not taken
/// as the value. Names in `numbers_as_text` also take JSON numbers (written as JSON writes
/// them), for texts and list items. The object must outlive this.
class JsonFields : public RequestFields {
public:
  using Paths = std::map<std::string, std::vector<std::string>, std::less<>>;
  explicit JsonFields(const nlohmann::json& object, Paths paths = {},
                      std::set<std::string, std::less<>> numbers_as_text = {});

  bool has(std::string_view name) const override;
  std::optional<std::string> text(std::string_view name) const override;
  std::optional<bool> flag(std::string_view name) const override;
  std::optional<double> number(std::string_view name) const override;
  std::optional<std::vector<std::string>> texts(std::string_view name) const override;
  std::optional<std::vector<std::pair<int, std::string>>>
  buttons(std::string_view name) const override;
  /// `'path'` of its first path, and `(or 'second')` when a second one is a top-level key.
  std::string label(std::string_view name) const override;
  /// The field as a JSON object: `{"template": {"language": "en_US"}}`.
  std::string example(std::string_view name, std::string_view value) const override;

private:
  struct Found {
    const nlohmann::json* value;
    std::string path;
  };
  std::vector<std::string> paths_of(std::string_view name) const;
  std::optional<Found> find(std::string_view name) const;
  bool container(const std::string& path) const;
  bool number_text(std::string_view name) const;

  const nlohmann::json& object_;
  Paths paths_;
  std::set<std::string, std::less<>> numbers_as_text_;
};

} // namespace wabactl
