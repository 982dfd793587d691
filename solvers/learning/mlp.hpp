// Mlp: a dense network with tanh hidden layers and a linear output, whose parameters live
// in a flat View shared with other networks (one array for Adam, allreduce, checkpoints).
// Layer l maps width[l] -> width[l+1]; its weights are stored [in][out] (row j holds the
// weights from input j), then its biases, starting at the layer's offset in the flat array.
#pragma once

#include <cstdint>
#include <vector>

#include "solvers/core/exact_sum.hpp"
#include "solvers/core/kokkos_types.hpp"
#include "solvers/learning/exact_gradient.hpp"

namespace kollektiv::learning {

struct DenseLayer {
  int in = 0;
  int out = 0;
  std::int64_t weight_offset = 0;  // W(j, i) at weight_offset + j * out + i
  std::int64_t bias_offset = 0;    // b(i) at bias_offset + i
  bool tanh = false;               // tanh activation (hidden) or linear (output)
};

// Activations and deltas of one batch; sized once for a row capacity and reused.
struct MlpWork {
  std::vector<View<Real**>> activation;  // [layer] -> [rows][out]
  std::vector<View<Real**>> delta;       // [layer] -> [rows][out], dLoss/dpre-activation
  std::vector<View<Real*>> weights_t;    // [layer] -> [out * in], W transposed for backward
  View<Real**> partial;                  // segment partial sums of a layer's gradient
  int capacity = 0;
  View<Real**> output() const { return activation.back(); }
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

  // Workspace for batches of up to `rows` rows; gradients are summed `segment_chunk`
  // segments at a time.
  MlpWork make_work(int rows, int segment_chunk = 64) const;

  // Scaled normal weights (gain / sqrt(fan_in), gain sqrt(2) hidden, output_gain last),
  // zero biases; draws keyed by (seed, parameter_init, parameter index).
  void initialize(View<Real*> params, std::uint64_t seed, double output_gain) const;

  // work.activation[l] for rows [0, rows) of x ([rows][input_dim]).
  void forward(View<const Real*> params, View<const Real**> x, int rows, MlpWork& work) const;

  // Given dLoss/doutput for each row, adds the parameter gradient into grad (exact, by
  // segments of rows) and, if dx is allocated, writes dLoss/dx. Needs forward() on x first.
  void backward(View<const Real*> params, View<const Real**> x, int rows, View<const Real**> dy,
                const Segments& segments, MlpWork& work, View<ExactSum*> grad,
                View<Real**> dx = View<Real**>()) const;

 private:
  std::vector<int> widths_;
  std::vector<DenseLayer> layers_;
  std::int64_t base_ = 0;
  std::int64_t count_ = 0;
};

}  // namespace kollektiv::learning
