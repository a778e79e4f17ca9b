// Learning-rate schedules: small value types mapping a step to a rate, and ReduceOnPlateau.
//
// A Schedule is a body (constant, cosine, rsqrt, LRA cosine, decay over the last fraction of
// training) times an optional linear warmup:
//   warmup(s)  = start + (1 - start) * min(1, s / W)          (1 when W = 0)
//   constant   lr
//   cosine     min + (lr - min) * (1 + cos(pi * p)) / 2,   p = clamp((s - W) / (total - W), 0, 1)
//   rsqrt      lr / sqrt(max(s, W))                         (the LRA code's "linear_warmup * rsqrt_decay";
//                                                            base 0.05, W 1000: 1.58e-3 at 1000, 7.07e-4 at 5000)
//   lra_cosine lr * max(0, (1 + cos(pi * f)) / 2),  f = (max(0, s - W) / cycle) mod 1
//                                                           (the LRA code's "linear_warmup * cosine_decay")
//   last10     lr * min(1, (total - s) / (fraction * total)), at least 0: constant, then linear to 0
//              over the final `fraction` of training
// s is the number of the update being made; with a warmup from 0 the rate at s = 0 is 0, so training
// loops pass the 1-based update number. Schedules print as the spec string parse_schedule() reads:
// "cosine:lr=0.001,warmup=500,total=10000,min=1e-06".
//
// ReduceOnPlateau is the one stateful piece: it watches an evaluation metric and multiplies whatever
// rate the schedule gives by a factor that shrinks when the metric stops improving.
#pragma once

#include <cstdint>
#include <string>

namespace lra::optim {

class Schedule {
 public:
  enum class Kind { Constant, Cosine, Rsqrt, LraCosine, Last };

  static Schedule constant(double lr);
  static Schedule cosine(double lr, int64_t total_steps, double min_lr = 0.0);
  // The warmup is part of these two formulas: W is both the warmup length and where decay starts.
  static Schedule rsqrt(double lr, int64_t warmup);
  static Schedule lra_cosine(double lr, int64_t warmup, int64_t cycle);
  static Schedule last_fraction(double lr, int64_t total_steps, double fraction = 0.1);

  // The same schedule with a linear warmup over `steps` steps from start_fraction * (its rate).
  Schedule with_warmup(int64_t steps, double start_fraction = 0.0) const;

  double operator()(int64_t step) const;
  double at(int64_t step) const { return (*this)(step); }

  Kind kind() const { return kind_; }
  double base_lr() const { return lr_; }
  int64_t warmup_steps() const { return warmup_; }
  // A spec string that parse_schedule() turns back into this schedule.
  std::string to_string() const;

 private:
  Schedule() = default;
  void validate() const;
  friend Schedule parse_schedule(const std::string&, double, int64_t);

  Kind kind_ = Kind::Constant;
  double lr_ = 0.0;
  int64_t warmup_ = 0;
  double start_ = 0.0;     // warmup starts at start_ * rate
  int64_t total_ = 0;      // cosine, last10
  double min_lr_ = 0.0;    // cosine
  int64_t cycle_ = 0;      // lra_cosine
  double fraction_ = 0.1;  // last10
};

// Parses "kind[:key=value,...]", e.g. "rsqrt:warmup=1000", "cosine:warmup=500,min=1e-6", "constant",
// "last10:fraction=0.1", "lra_cosine:warmup=1000,cycle=50000", "cosine:warmup=10%" (10% of the total
// steps, rounded down: one spec for a run of any length). `lr` and `total_steps` (0: unknown)
// are the defaults for the keys lr and total. Keys: every kind takes lr, warmup, start; cosine takes
// total, min; lra_cosine takes cycle (default total - warmup); last10 takes total, fraction. Throws
// lra::Error naming the spec and the bad key or value.
Schedule parse_schedule(const std::string& spec, double lr, int64_t total_steps = 0);

struct PlateauConfig {
  bool maximize = false;     // false: lower metric is better (a loss); true: higher (an accuracy)
  double factor = 0.1;       // the scale is multiplied by this on each reduction
  int64_t patience = 10;     // evaluations without improvement tolerated before reducing
  double threshold = 1e-4;   // relative: improving means beating best * (1 -/+ threshold)
  int64_t cooldown = 0;      // evaluations after a reduction during which bad ones are not counted
  double min_lr = 0.0;       // apply() never goes below this (nor above the schedule's own rate)
};

// PyTorch's ReduceLROnPlateau (relative threshold mode) as a factor on top of a Schedule.
class ReduceOnPlateau {
 public:
  explicit ReduceOnPlateau(const PlateauConfig& config = {});
  // Records one evaluation; returns true when it reduced the scale.
  bool observe(double metric);
  double scale() const { return scale_; }
  // The rate to use: max(lr * scale, min(lr, min_lr)).
  double apply(double lr) const;
  // The few numbers of its state as "best=..,bad=..,cooldown=..,scale=..", for checkpoint metadata.
  std::string state() const;
  void load_state(const std::string& s);
  const PlateauConfig& config() const { return config_; }

 private:
  PlateauConfig config_;
  double best_;
  int64_t bad_ = 0;
  int64_t cooldown_left_ = 0;
  double scale_ = 1.0;
};

}  // namespace lra::optim
