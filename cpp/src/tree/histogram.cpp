#include "histogram.hpp"

#include <algorithm>
#include <cstring>

#include "sapwood/threading.hpp"

namespace sapwood {

HistLayout MakeHistLayout(const BinMapper& mapper) {
  HistLayout layout;
  std::uint32_t off = 0;
  for (int f = 0; f < mapper.NumFeatures(); ++f) {
    layout.offset.push_back(off);
    layout.nbins.push_back(mapper.Feature(f).NumBins());
    off += static_cast<std::uint32_t>(mapper.Feature(f).NumBins());
    layout.num_cats.push_back(mapper.Feature(f).num_cats);
  }
  layout.total = off;
  return layout;
}

HistogramBuilder::HistogramBuilder(const BinnedMatrix& data, const HistLayout& layout,
                                   int n_threads)
    : layout_(layout), n_threads_(n_threads), n_features_(data.NumFeatures()),
      wide_(data.IsWide()) {
  const std::int64_t n = data.NumRows();
  const int nf = n_features_;
  const std::size_t total = static_cast<std::size_t>(n) * static_cast<std::size_t>(nf);
  if (wide_) {
    rm16_.resize(total);
  } else {
    rm8_.resize(total);
  }
  constexpr std::int64_t kBlock = 4096;
  ParallelFor(0, (n + kBlock - 1) / kBlock, n_threads, [&](std::int64_t b) {
    const std::int64_t r0 = b * kBlock, r1 = std::min(n, r0 + kBlock);
    for (int f = 0; f < nf; ++f) {
      if (wide_) {
        const BinU16* col = data.Column16(f);
        for (std::int64_t r = r0; r < r1; ++r) rm16_[static_cast<std::size_t>(r) * nf + f] = col[r];
      } else {
        const BinU8* col = data.Column8(f);
        for (std::int64_t r = r0; r < r1; ++r) rm8_[static_cast<std::size_t>(r) * nf + f] = col[r];
      }
    }
  });
  thread_bufs_.resize(static_cast<std::size_t>(std::max(1, n_threads)));
}

template <class BinT>
void HistogramBuilder::BuildRange(const BinT* rm, const std::uint32_t* rows, std::int64_t begin,
                                  std::int64_t end, const GradPair* gh, HistBin* out) const {
  const int nf = n_features_;
  const std::uint32_t* off = layout_.offset.data();
  constexpr std::int64_t kPrefetch = 32;
  for (std::int64_t i = begin; i < end; ++i) {
    const std::size_t r = rows ? rows[i] : static_cast<std::size_t>(i);
    if (rows && i + kPrefetch < end) {
      __builtin_prefetch(rm + static_cast<std::size_t>(rows[i + kPrefetch]) * nf);
      __builtin_prefetch(gh + rows[i + kPrefetch]);
    }
    const BinT* b = rm + r * static_cast<std::size_t>(nf);
    const std::int64_t g = gh[r].g, hc = gh[r].hc;
    for (int f = 0; f < nf; ++f) {
      HistBin& e = out[off[f] + b[f]];
      e.g += g;
      e.hc += hc;
    }
  }
}

void HistogramBuilder::Build(const std::uint32_t* rows, std::int64_t n, const GradPair* gh,
                             HistBin* out) {
  const std::size_t total = layout_.total;
  std::memset(out, 0, total * sizeof(HistBin));
  if (n <= 0) return;
  // Chunks are cut by size, not by thread count; sums are exact integers, so the result is
  // the same whatever the chunking.
  int chunks = static_cast<int>(std::min<std::int64_t>(n_threads_, 1 + n / 8192));
  if (chunks <= 1) {
    if (wide_) {
      BuildRange(rm16_.data(), rows, 0, n, gh, out);
    } else {
      BuildRange(rm8_.data(), rows, 0, n, gh, out);
    }
    return;
  }
  ParallelFor(0, chunks, chunks, [&](std::int64_t c) {
    const std::int64_t b = n * c / chunks, e = n * (c + 1) / chunks;
    HistBin* dst = out;
    if (c > 0) {
      auto& buf = thread_bufs_[static_cast<std::size_t>(c)];
      if (buf.size() != total) buf.resize(total);
      std::memset(buf.data(), 0, total * sizeof(HistBin));
      dst = buf.data();
    }
    if (wide_) {
      BuildRange(rm16_.data(), rows, b, e, gh, dst);
    } else {
      BuildRange(rm8_.data(), rows, b, e, gh, dst);
    }
  });
  // Reduce the chunk histograms into out, split over bins.
  const std::int64_t kSlab = 1024;
  const std::int64_t n_slabs = (static_cast<std::int64_t>(total) + kSlab - 1) / kSlab;
  ParallelFor(0, n_slabs, n_threads_, [&](std::int64_t s) {
    const std::size_t b = static_cast<std::size_t>(s * kSlab);
    const std::size_t e = std::min(total, b + kSlab);
    for (int c = 1; c < chunks; ++c) {
      const HistBin* src = thread_bufs_[static_cast<std::size_t>(c)].data();
      for (std::size_t i = b; i < e; ++i) {
        out[i].g += src[i].g;
        out[i].hc += src[i].hc;
      }
    }
  });
}

void HistogramBuilder::Subtract(const HistBin* parent, const HistBin* child, HistBin* out) const {
  for (std::size_t i = 0; i < layout_.total; ++i) {
    out[i].g = parent[i].g - child[i].g;
    out[i].hc = parent[i].hc - child[i].hc;
  }
}

std::vector<HistBin> BuildHistogram(const BinnedMatrix& data, const std::vector<std::uint32_t>& rows,
                                    const std::vector<GradPair>& gh, int n_threads,
                                    HistLayout* layout) {
  *layout = MakeHistLayout(data.Mapper());
  HistogramBuilder builder(data, *layout, n_threads);
  std::vector<HistBin> out(layout->total);
  if (rows.empty()) {
    builder.Build(nullptr, data.NumRows(), gh.data(), out.data());
  } else {
    builder.Build(rows.data(), static_cast<std::int64_t>(rows.size()), gh.data(), out.data());
  }
  return out;
}

}  // namespace sapwood
