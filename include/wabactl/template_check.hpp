#pragma once
// What a template takes (its model: header format, placeholders, buttons), the one check
// every door runs on a template send before anything reaches Meta (CONTRACT.md §8), and
// the sync that fills the catalogue from Meta's listing.

#include "wabactl/graph.hpp"
#include "wabactl/send.hpp"
#include "wabactl/templates.hpp"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace wabactl {

class RequestFields;
class Store;

/// One placeholder of a template's text: `1` or `first_name`, with Meta's example value.
struct Placeholder {
  std::string name;
  std::string example; ///< empty when the template gives none
};

/// One button of a template, at its index in the BUTTONS component.
struct TemplateButton {
  int index = 0;
  std::string type; ///< QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, OTP, FLOW, …
  std::string text;
  std::string url; ///< URL buttons
  /// What a send gives this button: nothing, a text (a URL's variable, an OTP code), a
  /// coupon code, or an optional quick reply payload.
  enum class Takes { nothing, text, coupon_code, payload } takes = Takes::nothing;
  std::string example; ///< Meta's example value, where the template gives one
};

/// A template as the check and `template show` read it. Unknown component types are kept
/// by name and never checked.
struct TemplateModel {
  bool named = false;        ///< parameter_format NAMED: placeholders are names
  std::string header_format; ///< TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION, … or empty: none
  std::string header_text;
  std::vector<Placeholder> header_params;
  std::string body_text;
  std::vector<Placeholder> body_params;
  std::optional<std::string> footer;
  std::vector<TemplateButton> buttons;
  std::vector<std::string> unknown_components;
};

/// Reads a template's components. Never throws: what it cannot read it leaves out.
TemplateModel template_model(const Template& t);

/// The problems of sending `content` with the template `model` reads, each a phrase
/// that follows the template's name: "takes 2 body parameters: {{1}} Jane, {{2}} $120.00;
/// got 1". Fields are named as `fields` (the door) names them. For a named-parameter
/// template, body parameters are NAME=VALUE: when they fit, content's body_param_names and
/// values are set apart; button_types and header_param_name are filled likewise. Empty when
/// the send fits.
std::vector<std::string> template_problems(const TemplateModel& model, Content& content,
                                           const RequestFields& fields);

/// An example `wabactl send` line for `t` that passes the check, from Meta's examples.
std::string example_send(const std::string& tenant, const Template& t, const TemplateModel& model);

/// What a door lets a send skip: the template check (`--no-template-check`, REST and
/// batch `no_template_check`) and the window check (`--outside-window`, `outside_window`).
struct SendChecks {
  bool templates = true;
  bool window = true;
};

/// The one check every door (CLI send, REST send, batch rows) runs on a prepared send before
/// anything reaches Meta (CONTRACT.md §8), refusing what Meta would refuse: a template that
/// is not in the catalogue, not APPROVED or not given what it takes, and a free-form message
/// to a conversation whose customer-service window is closed. Looks each template up once.
class SendCheck {
public:
  SendCheck(Store& store, std::string tenant, SendChecks checks = {});
  /// Throws Refusal("template_not_sendable" | "window_closed") naming what is wrong and
  /// what the template expects; may complete `prepared` (a named template's parameter
  /// names, button kinds). `fields` names fields as the door does. Returns a warning when
  /// a template goes unchecked because the tenant's catalogue has never been synced.
  std::optional<std::string> check(PreparedSend& prepared, const RequestFields& fields);

private:
  struct Entry {
    Template t;
    TemplateModel model;
  };
  const Entry* find(const std::string& name, const std::string& language);
  std::optional<std::string> check_template(PreparedSend& prepared, const RequestFields& fields);
  void check_window(const PreparedSend& prepared, const RequestFields& fields);

  Store& store_;
  std::string tenant_;
  SendChecks checks_;
  std::optional<std::optional<TemplateSync>> sync_;
  std::map<std::pair<std::string, std::string>, std::optional<Entry>> cache_;
};

/// Bounds of a sync.
struct TemplateSyncLimits {
  int page_size = 100;
  int max_pages = 100;
  std::size_t max_templates = 10000;
};

/// Pulls the tenant's whole catalogue from `GET /{waba_id}/message_templates`, every page
/// (the next page is asked for with the `after` cursor on the same path, never at a URL an
/// answer names), and replaces the stored one in one transaction; a failed or malformed
/// page leaves it as it was. Error(not_configured) without a business account id,
/// Error(credentials|rejected|tempfail) for Meta's refusals. Returns the sync.
TemplateSync sync_templates(Store& store, const SendTarget& target,
                            const TemplateSyncLimits& limits = {});

/// The tenant's templates as `template list` and GET /api/whatsapp/templates show them:
/// to_json(t) plus "parameters" (the body's placeholders: ["1", "2"] or names).
nlohmann::json template_summary_json(const Template& t);

} // namespace wabactl
