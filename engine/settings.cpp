#include "engine/settings.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace lra::settings {

int64_t parse_int(const std::string& what, const std::string& text) {
  int64_t x = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data() + (!text.empty() && text[0] == '+'), end, x);
  if (!text.empty() && ec == std::errc() && p == end) return x;
  fail(str(what, " takes an integer, got '", text, "'"));
}

double parse_double(const std::string& what, const std::string& text) {
  double x = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data() + (!text.empty() && text[0] == '+'), end, x);
  // Denormals (5e-324) read as themselves: from_chars reports them as out of range but stores the value.
  if (!text.empty() && p == end && (ec == std::errc() || (ec == std::errc::result_out_of_range && x != 0 && std::isfinite(x))))
    return x;
  fail(str(what, " takes a number, got '", text, "'"));
}

bool parse_bool(const std::string& what, const std::string& text) {
  if (text == "true" || text == "1" || text == "on" || text == "yes") return true;
  if (text == "false" || text == "0" || text == "off" || text == "no") return false;
  fail(str(what, " takes true or false, got '", text, "'"));
}

std::string format_double(double x) {
  // The shortest digits that read back as x, laid out as Python's repr does: positional for exponents
  // -4..15 (0.0003, 10000), scientific otherwise (1e-09 -> "1e-9", 2.5e+20 -> "2.5e+20").
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
  LRA_CHECK(ec == std::errc(), "format_double: cannot print ", x);
  std::string sci(buf, end);
  const size_t e = sci.find('e');
  if (e == std::string::npos) return sci;  // inf, nan
  const int exponent = std::stoi(sci.substr(e + 1));
  if (exponent >= -4 && exponent < 16) {
    auto [fend, fec] = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::fixed);
    LRA_CHECK(fec == std::errc(), "format_double: cannot print ", x);
    return std::string(buf, fend);
  }
  return sci.substr(0, e + 1) + (exponent < 0 ? "-" : "+") + std::to_string(std::abs(exponent));
}

std::string choice_list(const std::vector<std::string>& names) {
  std::string t = "{";
  for (const std::string& n : names) t += (t.size() > 1 ? "|" : "") + n;
  return t + "}";
}

const std::string& check_choice(const std::string& what, const std::string& text, const std::vector<std::string>& names) {
  for (const std::string& n : names)
    if (n == text) return n;
  std::string list;
  for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
  fail(str(what, " must be one of ", list, ", got '", text, "'"));
}

std::string toml_string(const std::string& text) {
  std::string o = "\"";
  for (char ch : text) {
    switch (ch) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\t': o += "\\t"; break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20) {
          char hex[8];
          std::snprintf(hex, sizeof hex, "\\u%04x", ch);
          o += hex;
        } else {
          o += ch;
        }
    }
  }
  return o + "\"";
}

std::string toml_value(Kind kind, const std::string& text) {
  switch (kind) {
    case Kind::Int:
    case Kind::Bool: return text;
    case Kind::Float: {
      if (text == "inf" || text == "-inf" || text == "nan") return text;
      // TOML reads "3" as an integer: a float keeps its kind with a decimal point.
      if (text.find_first_of(".eEn") == std::string::npos) return text + ".0";
      return text;
    }
    case Kind::Text: return toml_string(text);
  }
  return toml_string(text);
}

std::string canonical_key(std::string key) {
  std::replace(key.begin(), key.end(), '-', '_');
  return key;
}

}  // namespace lra::settings
