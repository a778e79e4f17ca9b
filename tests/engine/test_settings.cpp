// engine/settings.h: text to value and back. Doubles print in their shortest exact form and read back
// bit for bit; integers, booleans and choices refuse what they cannot read, naming the setting; TOML
// values keep their kind (a float never prints as an integer).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "engine/settings.h"

namespace lra::settings {
namespace {

enum class Color { Red, Green };
const Names<Color> kColors = {{Color::Red, "red"}, {Color::Green, "green"}};

struct Toy {
  int n = 3;
  double x = 0.5;
  bool on = false;
  std::string name = "a b";
  Color color = Color::Red;
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Settings, DoublesRoundTripInTheirShortestForm) {
  EXPECT_EQ(format_double(0.0003), "0.0003");
  EXPECT_EQ(format_double(1e-9), "1e-9");
  EXPECT_EQ(format_double(10000), "10000");
  EXPECT_EQ(format_double(0.1), "0.1");
  EXPECT_EQ(format_double(-2.5e20), "-2.5e+20");
  EXPECT_EQ(format_double(1e16), "1e+16");
  // Values with 17 significant digits and awkward exponents read back exactly.
  for (double v : {0.1 + 0.2, 1.0 / 3.0, 6.02214076e23, 5e-324, std::numeric_limits<double>::max(), -0.0, 1e-5,
                   123456.789e-10})
    EXPECT_EQ(parse_double("v", format_double(v)), v) << format_double(v);
  EXPECT_EQ(format_double(std::numeric_limits<double>::infinity()), "inf");
}

TEST(Settings, ParsersNameWhatTheyRead) {
  EXPECT_EQ(parse_int("setting n", "-12"), -12);
  EXPECT_EQ(parse_int("setting n", "+7"), 7);
  EXPECT_EQ(error_of([] { parse_int("setting n", "12x"); }), "setting n takes an integer, got '12x'");
  EXPECT_EQ(error_of([] { parse_int("setting n", ""); }), "setting n takes an integer, got ''");
  EXPECT_EQ(error_of([] { parse_int("setting n", "1.5"); }), "setting n takes an integer, got '1.5'");
  EXPECT_EQ(error_of([] { parse_double("setting x", "1e"); }), "setting x takes a number, got '1e'");
  EXPECT_TRUE(parse_bool("b", "on"));
  EXPECT_FALSE(parse_bool("b", "0"));
  EXPECT_EQ(error_of([] { parse_bool("setting b", "maybe"); }), "setting b takes true or false, got 'maybe'");
  EXPECT_EQ(parse_choice("setting color", "green", kColors), Color::Green);
  EXPECT_EQ(error_of([] { parse_choice("setting color", "blue", kColors); }),
            "setting color must be one of red, green, got 'blue'");
  EXPECT_EQ(canonical_key("head-layers"), "head_layers");
}

TEST(Settings, BoundSettingsSetGetAndPrintToml) {
  const std::vector<Setting<Toy>> all = {integer("n", &Toy::n, "an int"), number("x", &Toy::x, "a double"),
                                         flag("on", &Toy::on, "a flag"), text("name", &Toy::name, "text"),
                                         choice("color", &Toy::color, kColors, "a choice")};
  Toy t;
  EXPECT_EQ(find(all, "n")->toml(t), "3");
  EXPECT_EQ(find(all, "x")->toml(t), "0.5");
  t.x = 2;
  EXPECT_EQ(find(all, "x")->toml(t), "2.0");  // TOML would read "2" as an integer
  EXPECT_EQ(find(all, "on")->toml(t), "false");
  EXPECT_EQ(find(all, "name")->toml(t), "\"a b\"");
  EXPECT_EQ(find(all, "color")->toml(t), "\"red\"");
  EXPECT_EQ(find(all, "color")->type_name(), "{red|green}");
  // set(get()) changes nothing, for every setting.
  Toy u;
  u.n = -4;
  u.x = 1.0 / 3.0;
  u.on = true;
  u.name = "quote \" and \\ backslash";
  u.color = Color::Green;
  Toy v;
  for (const auto& s : all) s.set(v, s.get(u));
  EXPECT_EQ(v.n, u.n);
  EXPECT_EQ(v.x, u.x);
  EXPECT_EQ(v.on, u.on);
  EXPECT_EQ(v.name, u.name);
  EXPECT_EQ(v.color, u.color);
  EXPECT_EQ(toml_string(u.name), "\"quote \\\" and \\\\ backslash\"");
  EXPECT_EQ(error_of([&] { find(all, "n")->set(v, "x"); }), "setting n takes an integer, got 'x'");
  EXPECT_EQ(find(all, "no_such"), nullptr);
}

TEST(Settings, LiftBindsThroughAMember) {
  struct Outer {
    Toy toy;
    int other = 0;
  };
  const std::vector<Setting<Toy>> inner = {integer("n", &Toy::n, "an int")};
  const std::vector<Setting<Outer>> outer = lift(inner, &Outer::toy);
  Outer o;
  outer[0].set(o, "9");
  EXPECT_EQ(o.toy.n, 9);
  EXPECT_EQ(outer[0].get(o), "9");
}

}  // namespace
}  // namespace lra::settings
