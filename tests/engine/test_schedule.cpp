// Learning-rate schedules: exact values at known steps, spec parsing and printing, ReduceOnPlateau.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "engine/base.h"
#include "engine/schedule.h"

namespace lra::optim {
namespace {

// Expects `fn` to throw lra::Error whose message contains every one of `parts`.
template <class F>
void expect_error(F fn, std::initializer_list<const char*> parts) {
  try {
    fn();
    ADD_FAILURE() << "expected an error containing '" << *parts.begin() << "'";
  } catch (const Error& e) {
    for (const char* p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST(Schedule, RsqrtMatchesTheLraFormula) {
  Schedule s = Schedule::rsqrt(0.05, 1000);
  EXPECT_DOUBLE_EQ(s(0), 0.0);
  EXPECT_DOUBLE_EQ(s(500), 0.5 * 0.05 / std::sqrt(1000.0));
  EXPECT_DOUBLE_EQ(s(1000), 0.05 / std::sqrt(1000.0));
  EXPECT_NEAR(s(1000), 1.58e-3, 0.005e-3);
  EXPECT_DOUBLE_EQ(s(5000), 0.05 / std::sqrt(5000.0));
  EXPECT_NEAR(s(5000), 7.07e-4, 0.005e-4);
}

TEST(Schedule, ConstantWithWarmupFromAStartFraction) {
  EXPECT_DOUBLE_EQ(Schedule::constant(0.1)(0), 0.1);
  EXPECT_DOUBLE_EQ(Schedule::constant(0.1)(123456), 0.1);
  Schedule s = Schedule::constant(2.0).with_warmup(100, 0.1);
  EXPECT_DOUBLE_EQ(s(0), 0.2);
  EXPECT_DOUBLE_EQ(s(50), 2.0 * 0.55);
  EXPECT_DOUBLE_EQ(s(100), 2.0);
  EXPECT_DOUBLE_EQ(s(1000), 2.0);
  EXPECT_DOUBLE_EQ(Schedule::constant(2.0).with_warmup(4)(1), 0.5);
}

TEST(Schedule, CosineToAMinimumAfterWarmup) {
  Schedule s = Schedule::cosine(1e-3, 10000, 1e-6).with_warmup(500);
  EXPECT_DOUBLE_EQ(s(0), 0.0);
  EXPECT_DOUBLE_EQ(s(250), 0.5e-3);
  EXPECT_DOUBLE_EQ(s(500), 1e-3);
  EXPECT_DOUBLE_EQ(s(5250), 1e-6 + (1e-3 - 1e-6) * 0.5);
  EXPECT_DOUBLE_EQ(s(10000), 1e-6);
  EXPECT_DOUBLE_EQ(s(20000), 1e-6) << "stays at the minimum after the end";
  // Without warmup the decay starts at step 0.
  Schedule plain = Schedule::cosine(1.0, 100);
  EXPECT_DOUBLE_EQ(plain(0), 1.0);
  EXPECT_NEAR(plain(25), 0.5 * (1 + std::cos(M_PI / 4)), 1e-15);
}

TEST(Schedule, LraCosineRestartsEveryCycle) {
  Schedule s = Schedule::lra_cosine(0.1, 100, 1000);
  EXPECT_DOUBLE_EQ(s(50), 0.05);
  EXPECT_DOUBLE_EQ(s(100), 0.1);
  EXPECT_NEAR(s(600), 0.05, 1e-16);
  EXPECT_LT(s(1099), 1e-6);
  EXPECT_DOUBLE_EQ(s(1100), 0.1) << "f = 1 mod 1 = 0: a new cycle";
  EXPECT_NEAR(s(1600), 0.05, 1e-16);
}

TEST(Schedule, DecayOverTheLastFraction) {
  Schedule s = Schedule::last_fraction(1.0, 1000);
  EXPECT_DOUBLE_EQ(s(0), 1.0);
  EXPECT_DOUBLE_EQ(s(900), 1.0);
  EXPECT_DOUBLE_EQ(s(950), 0.5);
  EXPECT_DOUBLE_EQ(s(990), 0.1);
  EXPECT_DOUBLE_EQ(s(1000), 0.0);
  EXPECT_DOUBLE_EQ(s(1200), 0.0);
  Schedule quarter = Schedule::last_fraction(0.4, 100, 0.25).with_warmup(10);
  EXPECT_DOUBLE_EQ(quarter(5), 0.2);
  EXPECT_DOUBLE_EQ(quarter(75), 0.4);
  EXPECT_DOUBLE_EQ(quarter(90), 0.4 * 0.4);
}

TEST(Schedule, ParsesSpecStrings) {
  Schedule r = parse_schedule("rsqrt:warmup=1000", 0.05);
  EXPECT_EQ(r.kind(), Schedule::Kind::Rsqrt);
  EXPECT_DOUBLE_EQ(r(5000), 0.05 / std::sqrt(5000.0));
  Schedule c = parse_schedule("cosine:warmup=500,min=1e-6", 1e-3, 10000);
  EXPECT_DOUBLE_EQ(c(10000), 1e-6);
  EXPECT_DOUBLE_EQ(c(250), 0.5e-3);
  EXPECT_DOUBLE_EQ(parse_schedule("constant", 0.3)(7), 0.3);
  EXPECT_DOUBLE_EQ(parse_schedule("constant:lr=0.2,warmup=10,start=0.5", 0.3)(0), 0.1);
  EXPECT_DOUBLE_EQ(parse_schedule("last10:fraction=0.1", 1.0, 1000)(950), 0.5);
  EXPECT_DOUBLE_EQ(parse_schedule("last10:total=200", 1.0, 1000)(190), 0.5) << "total= overrides the default";
  EXPECT_DOUBLE_EQ(parse_schedule("lra_cosine:warmup=100,cycle=1000", 0.1)(600), 0.05);
  EXPECT_DOUBLE_EQ(parse_schedule("lra_cosine:warmup=100", 0.1, 1100)(600), 0.05) << "cycle defaults to total - warmup";
  // A warmup in percent of the run: 10% of 1500 steps is 150, of 100 steps 10 (one spec, any length).
  EXPECT_EQ(parse_schedule("cosine:warmup=10%", 0.01, 1500).warmup_steps(), 150);
  EXPECT_EQ(parse_schedule("cosine:warmup=10%", 0.01, 100).warmup_steps(), 10);
  EXPECT_EQ(parse_schedule("cosine:warmup=2.5%", 0.01, 1000).warmup_steps(), 25);
}

TEST(Schedule, PrintsASpecThatParsesBack) {
  const Schedule all[] = {Schedule::constant(0.3).with_warmup(10, 0.25), Schedule::cosine(1e-3, 10000, 1e-6).with_warmup(500),
                          Schedule::rsqrt(0.05, 1000), Schedule::lra_cosine(0.1, 100, 1000),
                          Schedule::last_fraction(1.0, 1000, 0.2).with_warmup(3)};
  for (const Schedule& s : all) {
    Schedule back = parse_schedule(s.to_string(), 99.0, 0);
    EXPECT_EQ(back.to_string(), s.to_string());
    for (int64_t step : {0, 1, 5, 250, 999, 5000}) EXPECT_EQ(back(step), s(step)) << s.to_string() << " at " << step;
  }
  EXPECT_EQ(Schedule::cosine(1e-3, 10000, 1e-6).with_warmup(500).to_string(), "cosine:lr=0.001,warmup=500,total=10000,min=1e-06");
  EXPECT_EQ(Schedule::rsqrt(0.05, 1000).to_string(), "rsqrt:lr=0.05,warmup=1000");
}

TEST(Schedule, ParseErrorsNameTheProblem) {
  expect_error([] { parse_schedule("cosin", 1.0, 10); }, {"schedule 'cosin'", "unknown schedule 'cosin'", "rsqrt"});
  expect_error([] { parse_schedule("cosine:warmpu=5", 1.0, 10); },
               {"unknown key 'warmpu'", "cosine takes lr, warmup, start, total, min"});
  expect_error([] { parse_schedule("cosine:warmup=abc", 1.0, 10); }, {"value 'abc' of key 'warmup' is not an integer"});
  expect_error([] { parse_schedule("cosine:warmup=100%", 1.0, 10); }, {"warmup=100% must be a percentage in [0%, 100%)"});
  expect_error([] { parse_schedule("cosine:warmup=x%", 1.0, 10); }, {"warmup=x% must be a percentage"});
  expect_error([] { parse_schedule("rsqrt:warmup=10%", 1.0); }, {"warmup=10% needs the total number of training steps"});
  expect_error([] { parse_schedule("cosine:min=x1", 1.0, 10); }, {"value 'x1' of key 'min' is not a number"});
  expect_error([] { parse_schedule("cosine:warmup=5", 1.0); }, {"needs the total number of training steps"});
  expect_error([] { parse_schedule("rsqrt", 1.0); }, {"schedule 'rsqrt'", "needs warmup > 0"});
  expect_error([] { parse_schedule("last10:fraction=2", 1.0, 100); }, {"fraction 2 must be in (0, 1]"});
  expect_error([] { parse_schedule("constant:lr", 1.0); }, {"expected key=value, got 'lr'"});
  expect_error([] { parse_schedule("constant:warmup=1,warmup=2", 1.0); }, {"key 'warmup' is given twice"});
  expect_error([] { parse_schedule("lra_cosine:warmup=10", 1.0); }, {"needs cycle=N"});
  expect_error([] { parse_schedule("cosine:min=2", 1.0, 10); }, {"min 2 must be in [0, lr = 1]"});
  expect_error([] { Schedule::constant(1.0)(-1); }, {"step -1 is negative"});
}

TEST(ReduceOnPlateau, ReducesAfterPatienceAndCoolsDown) {
  PlateauConfig c;
  c.factor = 0.5;
  c.patience = 2;
  c.threshold = 0.0;
  c.cooldown = 1;
  ReduceOnPlateau p(c);
  EXPECT_FALSE(p.observe(1.0));  // best
  EXPECT_FALSE(p.observe(1.0));  // bad 1
  EXPECT_FALSE(p.observe(1.5));  // bad 2
  EXPECT_TRUE(p.observe(1.0));   // bad 3 > patience
  EXPECT_DOUBLE_EQ(p.scale(), 0.5);
  EXPECT_FALSE(p.observe(2.0));  // in cooldown: not counted
  EXPECT_FALSE(p.observe(2.0));  // bad 1
  EXPECT_FALSE(p.observe(0.9));  // improvement resets
  EXPECT_FALSE(p.observe(0.9));
  EXPECT_FALSE(p.observe(0.9));
  EXPECT_TRUE(p.observe(0.9));
  EXPECT_DOUBLE_EQ(p.scale(), 0.25);
  EXPECT_DOUBLE_EQ(p.apply(0.1), 0.025);
}

TEST(ReduceOnPlateau, MaximizeThresholdAndMinLr) {
  PlateauConfig c;
  c.maximize = true;
  c.patience = 0;
  c.threshold = 0.1;  // must beat best by 10%
  c.min_lr = 1e-4;
  ReduceOnPlateau p(c);
  EXPECT_FALSE(p.observe(0.5));
  EXPECT_FALSE(p.observe(0.56));   // +12%: better
  EXPECT_TRUE(p.observe(0.6));     // +7%: not enough
  EXPECT_TRUE(p.observe(std::nan("")));  // NaN never improves
  EXPECT_DOUBLE_EQ(p.scale(), 0.01);
  EXPECT_DOUBLE_EQ(p.apply(1e-3), 1e-4) << "floored at min_lr";
  EXPECT_DOUBLE_EQ(p.apply(1e-5), 1e-5) << "never raised above the schedule (e.g. during warmup)";
}

TEST(ReduceOnPlateau, StateRoundTrip) {
  PlateauConfig c;
  c.patience = 1;
  c.cooldown = 2;
  ReduceOnPlateau a(c);
  for (double m : {3.0, 2.0, 2.5, 2.5}) a.observe(m);
  ReduceOnPlateau b(c);
  b.load_state(a.state());
  EXPECT_EQ(b.state(), a.state());
  for (double m : {2.4, 2.6, 2.6, 2.6, 1.0, 1.0}) EXPECT_EQ(a.observe(m), b.observe(m));
  EXPECT_EQ(b.scale(), a.scale());
  ReduceOnPlateau fresh(c);
  EXPECT_EQ(fresh.state(), "best=inf,bad=0,cooldown=0,scale=1");
  b.load_state(fresh.state());
  EXPECT_EQ(b.scale(), 1.0);
  expect_error([&] { b.load_state("best=1,bad=x,cooldown=0,scale=1"); }, {"bad value 'x' for 'bad'"});
  expect_error([&] { b.load_state("best=1,bad=0"); }, {"incomplete or invalid state"});
  expect_error([&] { b.load_state("best=1,bad=0,cooldown=0,scale=1,extra=2"); }, {"unknown key 'extra'"});
  expect_error([] { ReduceOnPlateau bad(PlateauConfig{false, 1.5}); }, {"factor 1.5 must be in (0, 1)"});
}

}  // namespace
}  // namespace lra::optim
