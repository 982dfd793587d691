// Point-to-point completion of items cut by rank boundaries (see span_partials.hpp).
#include "solvers/comm/span_partials.hpp"

#include "solvers/comm/collectives.hpp"
#include "solvers/core/error.hpp"

namespace kollektiv::comm {

namespace {
constexpr int span_tag = 7203;  // distinct from the part exchange's tag
}

SpanPartials::SpanPartials(MPI_Comm comm, const Decomposition& decomposition, std::int64_t head_begin,
                           std::int64_t tail_begin, std::int64_t tail_end)
    : comm_(comm) {
  const Range local = decomposition.local();
  if (local.size() == 0) return;
  require(head_begin <= local.begin && tail_begin <= local.end - 1 && tail_end >= local.end && head_begin <= tail_begin,
          "span partials: the first and last item must hold the local range's ends");
  if (head_begin < local.begin) head_owner_ = decomposition.owner(head_begin);
  if (tail_begin < local.begin) return;  // the last item is the first one, owned elsewhere
  for (std::int64_t g = local.end; g < tail_end;) {
    const int r = decomposition.owner(g);
    tail_sources_.push_back(r);
    g = decomposition.range_of(r).end;
  }
}

std::vector<std::vector<std::int64_t>> SpanPartials::combine(const std::vector<std::int64_t>& head,
                                                             std::size_t width) const {
  require(width <= static_cast<std::size_t>(max_message_count()), "span partials: record too long for one message");
  const int count = static_cast<int>(width);
  std::vector<std::vector<std::int64_t>> tails(tail_sources_.size(), std::vector<std::int64_t>(width));
  std::vector<MPI_Request> requests;
  requests.reserve(tails.size() + 1);
  for (std::size_t k = 0; k < tails.size(); ++k)
    MPI_Irecv(tails[k].data(), count, MPI_INT64_T, tail_sources_[k], span_tag, comm_, &requests.emplace_back());
  if (sends_head()) {
    require(head.size() == width, "span partials: the head record has the wrong width");
    MPI_Isend(head.data(), count, MPI_INT64_T, head_owner_, span_tag, comm_, &requests.emplace_back());
  }
  MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE);
  return tails;
}

}  // namespace kollektiv::comm
