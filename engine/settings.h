// Named settings: each field a user can set is declared once, here bound to the struct member that uses
// it, and read from text in one place, whether the text comes from a flag (--width 128), a TOML file
// (width = 128), a --set assignment (width=128) or a checkpoint's stored configuration.
//
//   struct Config { int width = 128; bool prenorm = true; Norm norm = Norm::Layer; };
//   std::vector<Setting<Config>> s = {
//       integer("width", &Config::width, "model width D"),
//       flag("prenorm", &Config::prenorm, "normalise before each sublayer"),
//       choice("norm", &Config::norm, kNormNames, "normalisation")};
//
// Parsing converts the text to the member's type and is the only check a setting gets here: a choice is
// an enum, so a bad name fails while parsing and the code that uses the value needs no check of its own.
// Ranges (width > 0, a dropout rate in [0, 1)) are checked once, by the code that uses the value.
// get() prints the value so that set(get()) changes nothing (doubles in their shortest exact form), and
// toml() prints it as a TOML value of its kind (64, 0.001, false, "cosine").
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "engine/base.h"

namespace lra::settings {

enum class Kind { Int, Float, Bool, Text };

// Name of each value of an enum, in declaration order: {{Norm::Layer, "layer"}, {Norm::Batch, "batch"}}.
template <class E>
using Names = std::vector<std::pair<E, const char*>>;

// Text to value. `what` names the value in the error: parse_int("setting width", "12x") throws
// "setting width takes an integer, got '12x'".
int64_t parse_int(const std::string& what, const std::string& text);
double parse_double(const std::string& what, const std::string& text);
bool parse_bool(const std::string& what, const std::string& text);  // true|false|1|0|on|off|yes|no
// The shortest text that reads back as exactly x ("0.001", "1e-09", "3").
std::string format_double(double x);
// "{a|b|c}" from a list of names.
std::string choice_list(const std::vector<std::string>& names);
// The value of `text` among `names`; an error names `what` and lists the names otherwise.
const std::string& check_choice(const std::string& what, const std::string& text, const std::vector<std::string>& names);
// `text` quoted as a TOML basic string.
std::string toml_string(const std::string& text);
// A value printed by a setting of `kind` as TOML: strings quoted, floats always with a '.', 'e' or 'inf'.
std::string toml_value(Kind kind, const std::string& text);

template <class E>
const char* name_of(const Names<E>& names, E value) {
  for (const auto& [v, n] : names)
    if (v == value) return n;
  fail("settings: an enum value has no name");
}

template <class E>
E parse_choice(const std::string& what, const std::string& text, const Names<E>& names) {
  std::vector<std::string> all;
  for (const auto& [v, n] : names) {
    if (text == n) return v;
    all.push_back(n);
  }
  check_choice(what, text, all);  // throws
  fail("unreachable");
}

template <class E>
std::vector<std::string> names_list(const Names<E>& names) {
  std::vector<std::string> all;
  for (const auto& [v, n] : names) all.push_back(n);
  return all;
}

template <class C>
struct Setting {
  std::string name;  // "width": the flag --width, the TOML key width (or its dashed form) and --set width=
  std::string help;
  Kind kind = Kind::Text;
  std::vector<std::string> choices;  // the allowed texts of a choice ({} : any)
  std::function<void(C&, const std::string&)> set;
  std::function<std::string(const C&)> get;

  std::string type_name() const {
    if (!choices.empty()) return choice_list(choices);
    switch (kind) {
      case Kind::Int: return "INT";
      case Kind::Float: return "FLOAT";
      case Kind::Bool: return "BOOL";
      case Kind::Text: return "TEXT";
    }
    return "TEXT";
  }
  std::string toml(const C& c) const { return toml_value(kind, get(c)); }
};

template <class C, class T>
Setting<C> integer(std::string name, T C::*field, std::string help) {
  const std::string n = "setting " + name;
  return {std::move(name), std::move(help), Kind::Int, {},
          [field, n](C& c, const std::string& v) { c.*field = T(parse_int(n, v)); },
          [field](const C& c) { return std::to_string(c.*field); }};
}

template <class C>
Setting<C> number(std::string name, double C::*field, std::string help) {
  const std::string n = "setting " + name;
  return {std::move(name), std::move(help), Kind::Float, {},
          [field, n](C& c, const std::string& v) { c.*field = parse_double(n, v); },
          [field](const C& c) { return format_double(c.*field); }};
}

template <class C>
Setting<C> flag(std::string name, bool C::*field, std::string help) {
  const std::string n = "setting " + name;
  return {std::move(name), std::move(help), Kind::Bool, {},
          [field, n](C& c, const std::string& v) { c.*field = parse_bool(n, v); },
          [field](const C& c) { return std::string(c.*field ? "true" : "false"); }};
}

template <class C>
Setting<C> text(std::string name, std::string C::*field, std::string help) {
  return {std::move(name), std::move(help), Kind::Text, {},
          [field](C& c, const std::string& v) { c.*field = v; }, [field](const C& c) { return c.*field; }};
}

template <class C, class E>
Setting<C> choice(std::string name, E C::*field, Names<E> names, std::string help) {
  const std::string n = "setting " + name;
  std::vector<std::string> all = names_list(names);
  return {std::move(name), std::move(help), Kind::Text, std::move(all),
          [field, n, names](C& c, const std::string& v) { c.*field = parse_choice(n, v, names); },
          [field, names](const C& c) { return std::string(name_of(names, c.*field)); }};
}

// The settings of a member struct as settings of the outer one (TrainConfig's model settings are
// ModelConfig's, bound through TrainConfig::model).
template <class Outer, class Inner>
std::vector<Setting<Outer>> lift(const std::vector<Setting<Inner>>& inner, Inner Outer::*member) {
  std::vector<Setting<Outer>> out;
  for (const Setting<Inner>& s : inner) {
    auto set = s.set;
    auto get = s.get;
    out.push_back({s.name, s.help, s.kind, s.choices,
                   [set, member](Outer& o, const std::string& v) { set(o.*member, v); },
                   [get, member](const Outer& o) { return get(o.*member); }});
  }
  return out;
}

// "head-layers" and "head_layers" name the same setting: keys are compared with '-' read as '_'.
std::string canonical_key(std::string key);

// The setting called `key` (dashes or underscores), or nullptr.
template <class C>
const Setting<C>* find(const std::vector<Setting<C>>& all, const std::string& key) {
  const std::string k = canonical_key(key);
  for (const Setting<C>& s : all)
    if (s.name == k) return &s;
  return nullptr;
}

template <class C>
std::string known_names(const std::vector<Setting<C>>& all) {
  std::string known;
  for (const Setting<C>& s : all) known += (known.empty() ? "" : ", ") + s.name;
  return known;
}

}  // namespace lra::settings
