// The run log: metrics.jsonl in the run directory, one JSON object per line (nlohmann-json), and the
// curves drawn from it.
//
//   {"type": "train", "step": 50, "loss": 2.1, "acc": 0.25, "lr": 0.001, "seq_per_s": 96.0, "elapsed_s": 16.6}
//   {"type": "val", "step": 250, "loss": 1.9, "acc": 0.31[, "lr_scale": 0.5]}
//   {"type": "test", "step": 1500, "checkpoint": "last" | "best", "acc": 0.438}
//
// curves.png is drawn from the file by tools/plot/curves.py (matplotlib): the binaries write data, a
// plotting library draws it, and anyone can redraw or restyle it from the same file.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace lra::train {

class RunLog {
 public:
  explicit RunLog(std::string dir);

  // A fresh run: metrics.jsonl starts empty.
  void start() const;
  // A resumed run at `step`: keeps the lines of steps <= step except test lines (the end re-runs them).
  void resume(int64_t step) const;
  void append(const nlohmann::json& record) const;
  // Every record; an error names the file and line of a malformed one.
  std::vector<nlohmann::json> read() const;
  // Draws <dir>/curves.png with tools/plot/curves.py. Plotting is a convenience: a missing interpreter
  // or matplotlib prints a note with the command to run later, and the run goes on.
  void plot() const;

  const std::string& path() const { return path_; }

 private:
  std::string dir_, path_;
};

// Draws `png` from the data file `data` with the matplotlib script `script` (a path in the source tree, e.g.
// tools/probe/plot_kernels.py) run by LRA_PYTHON. Plotting is a convenience: when it fails (no interpreter, no
// matplotlib) a note with the command to run later is printed and false returned. quiet drops the script's
// error output. RunLog::plot and every lra-probe picture draw through it.
bool draw_plot(const std::string& script, const std::string& data, const std::string& png, bool quiet = false);

}  // namespace lra::train
