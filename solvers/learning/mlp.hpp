// Mlp: a dense network with tanh hidden layers and a linear output, whose parameters live
// in a flat View shared with other networks (one array for Adam, the gradient sum and
// checkpoints). Layer l maps width[l] -> width[l+1]; its weights are stored [in][out]
// (row j holds the weights from input j), then its biases, from the layer's offset.
//
// The network is evaluated in a scalar type T: NetReal (float) in training and acting, and
// double where a test needs tight finite differences; the parameters the learner keeps
// (and Adam updates) are doubles, copied to T after every step.
#pragma once

#include <cstdint>
#include <vector>

#include "solvers/core/kokkos_types.hpp"
#include "solvers/learning/segment_sums.hpp"

namespace kollektiv::learning {

// The precision of network evaluation (forward, backward, per-segment gradient sums).
using NetReal = float;

// Widest layer a kernel handles; checked when an Mlp is built.
inline constexpr int max_layer_width = 1024;

struct DenseLayer {
  int in = 0;
  int out = 0;
  std::int64_t weight_offset = 0;  // W(j, i) at weight_offset + j * out + i
  std::int64_t bias_offset = 0;    // b(i) at bias_offset + i
  bool tanh = false;               // tanh activation (hidden) or linear (output)
};

// Activations and deltas of one batch; sized once for a row capacity and reused.
template <class T>
struct MlpWork {
  std::vector<View<T**>> activation;  // [layer] -> [rows][out]
  std::vector<View<T**>> delta;       // [layer] -> [rows][out], dLoss/dpre-activation
  std::vector<View<T*>> weights_t;    // [layer] -> [out * in], W transposed for backward
  int capacity = 0;
  View<T**> output() const { return activation.back(); }
};

class Mlp {
 public:
  Mlp() = default;
  // widths = {inputs, hidden..., outputs}; parameters start at base_offset.
  Mlp(const std::vector<int>& widths, std::int64_t base_offset);

  int input_dim() const { return widths_.front(); }
  int output_dim() const { return widths_.back(); }
  const std::vector<int>& widths() const { return widths_; }
  const std::vector<DenseLayer>& layers() const { return layers_; }
  std::int64_t base_offset() const { return base_; }
  std::int64_t parameter_count() const { return count_; }
  std::int64_t end_offset() const { return base_ + count_; }
  // Multiply-adds per row of one forward pass (the weights count).
  std::int64_t weight_count() const;

  // Workspace for batches of up to `rows` rows.
  template <class T>
  MlpWork<T> make_work(int rows) const;

  // Scaled normal weights (gain / sqrt(fan_in), gain sqrt(2) hidden, output_gain last),
  // zero biases; draws keyed by (seed, parameter_init, parameter index).
  void initialize(View<Real*> params, std::uint64_t seed, double output_gain) const;

  // work.activation[l] for rows [0, rows) of x ([rows][input_dim]).
  template <class T>
  void forward(View<const T*> params, View<const T**> x, int rows, MlpWork<T>& work) const;

  // Given dLoss/doutput for each row, writes each segment's parameter gradient to
  // partial(segment, parameter index) (rows summed in order; see segment_sums.hpp) and, if
  // dx is allocated, dLoss/dx. Needs forward() on x first.
  template <class T>
  void backward(View<const T*> params, View<const T**> x, int rows, View<const T**> dy, const Segments& segments,
                MlpWork<T>& work, View<Real**> partial, View<T**> dx = View<T**>()) const;

 private:
  std::vector<int> widths_;
  std::vector<DenseLayer> layers_;
  std::int64_t base_ = 0;
  std::int64_t count_ = 0;
};

// dst(i) = src(i) converted to T, for the network copy of the parameters.
template <class T>
void convert_parameters(View<const Real*> src, View<T*> dst);

}  // namespace kollektiv::learning
