#include "histogram.hpp"

#include <algorithm>
#include <cstring>
#include <type_traits>

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

// ------------------------------------------------------------------------- quantized bins
// A quantized bin is one integer word holding three fields, low to high: the row count
// (count bits), the hessian sum (hessian bits) and the signed gradient sum (the rest):
//   word = g << shift_g  +  h << shift_h  +  1      per row, summed with one add per feature.
// Count and hessian are never negative and their sums fit their fields, so they never carry
// into the field above; the gradient field is two's complement in the top bits, so the sum of
// words (mod 2^W) is exactly G << shift_g + H << shift_h + C as long as that fits a signed W-bit
// integer. The widths come from the node's row count n: count < 2^cb needs cb = bits(n),
// H <= n * levels, |G| <= n * ceil(levels / 2) plus a sign bit. One add instead of two per
// (row, feature), 8 or 4 bytes per bin instead of 16 (a histogram of 32 x 256 bins fits L2, or
// L1 at 4 bytes), and a 2-byte gradient read per row instead of 16: this is the point of
// quantized training, so it is written by hand.
namespace {

int Bits(std::uint64_t v) {
  int b = 0;
  while (v) {
    ++b;
    v >>= 1;
  }
  return b;
}

struct QuantWordBits {
  int shift_h, shift_g, total;
};

QuantWordBits WordBits(std::int64_t n, int levels) {
  const std::uint64_t un = static_cast<std::uint64_t>(std::max<std::int64_t>(n, 1));
  const int cb = Bits(un);
  const int hb = Bits(un * static_cast<std::uint64_t>(levels));
  const int gb = Bits(un * static_cast<std::uint64_t>((levels + 1) / 2)) + 1;
  return {cb, cb + hb, cb + hb + gb};
}

}  // namespace

int HistogramBuilder::QuantBinBytes(std::int64_t n, int levels) {
  const int total = WordBits(n, levels).total;
  return total <= 32 ? 4 : total <= 64 ? 8 : 16;
}

template <class BinT, class Word>
void HistogramBuilder::BuildQuantRange(const BinT* rm, const std::uint32_t* rows,
                                       std::int64_t begin, std::int64_t end, const QuantGrad* q,
                                       int shift_h, int shift_g, Word* out) const {
  using SWord = std::make_signed_t<Word>;
  const int nf = n_features_;
  const std::uint32_t* off = layout_.offset.data();
  constexpr std::int64_t kPrefetch = 32;
  for (std::int64_t i = begin; i < end; ++i) {
    const std::size_t r = rows ? rows[i] : static_cast<std::size_t>(i);
    if (rows && i + kPrefetch < end) {
      __builtin_prefetch(rm + static_cast<std::size_t>(rows[i + kPrefetch]) * nf);
    }
    const BinT* b = rm + r * static_cast<std::size_t>(nf);
    // unsigned shifts of the two's complement gradient: well defined, wraps as intended
    const Word w = (static_cast<Word>(static_cast<SWord>(q[r].g)) << shift_g) +
                   (static_cast<Word>(static_cast<std::uint8_t>(q[r].h)) << shift_h) + Word{1};
    for (int f = 0; f < nf; ++f) out[off[f] + b[f]] += w;
  }
}

template <class Word>
void HistogramBuilder::BuildQuantizedAs(const std::uint32_t* rows, std::int64_t n,
                                        const QuantGrad* q, int shift_h, int shift_g,
                                        int count_bits, HistBin* out) {
  using SWord = std::make_signed_t<Word>;
  const std::size_t total = layout_.total;
  auto& bufs = [this]() -> std::vector<std::vector<Word>>& {
    if constexpr (sizeof(Word) == 8) {
      return quant64_;
    } else {
      return quant32_;
    }
  }();
  // Chunks are cut by size, not by thread count (as Build); sums are exact either way.
  const int chunks = static_cast<int>(
      std::max<std::int64_t>(1, std::min<std::int64_t>(n_threads_, 1 + n / 8192)));
  if (static_cast<int>(bufs.size()) < chunks) bufs.resize(static_cast<std::size_t>(chunks));
  ParallelFor(0, chunks, chunks, [&](std::int64_t c) {
    auto& buf = bufs[static_cast<std::size_t>(c)];
    if (buf.size() != total) buf.resize(total);
    std::memset(buf.data(), 0, total * sizeof(Word));
    const std::int64_t b = n * c / chunks, e = n * (c + 1) / chunks;
    if (wide_) {
      BuildQuantRange(rm16_.data(), rows, b, e, q, shift_h, shift_g, buf.data());
    } else {
      BuildQuantRange(rm8_.data(), rows, b, e, q, shift_h, shift_g, buf.data());
    }
  });
  // Sum the chunks' words (exact: see above), then widen each field into a HistBin.
  const Word mask_c = (Word{1} << shift_h) - 1;
  const Word mask_low = (Word{1} << shift_g) - 1;
  const std::int64_t kSlab = 1024;
  const std::int64_t n_slabs = (static_cast<std::int64_t>(total) + kSlab - 1) / kSlab;
  ParallelFor(0, n_slabs, chunks > 1 ? n_threads_ : 1, [&](std::int64_t s) {
    const std::size_t b = static_cast<std::size_t>(s * kSlab);
    const std::size_t e = std::min(total, b + kSlab);
    for (std::size_t i = b; i < e; ++i) {
      Word w = bufs[0][i];
      for (int c = 1; c < chunks; ++c) w += bufs[static_cast<std::size_t>(c)][i];
      const Word low = w & mask_low;
      // arithmetic shift of the signed word: floor division, exact since 0 <= low < 2^shift_g
      const std::int64_t g = static_cast<std::int64_t>(static_cast<SWord>(w) >> shift_g);
      const std::int64_t h = static_cast<std::int64_t>(low >> shift_h);
      const std::int64_t cnt = static_cast<std::int64_t>(low & mask_c);
      out[i].g = g;
      out[i].hc = (h << count_bits) + cnt;
    }
  });
}

void HistogramBuilder::BuildQuantized(const std::uint32_t* rows, std::int64_t n,
                                      const GradPair* gh, const QuantGrad* q, int levels,
                                      int count_bits, HistBin* out) {
  if (n <= 0) {
    std::memset(out, 0, layout_.total * sizeof(HistBin));
    return;
  }
  const QuantWordBits wb = WordBits(n, levels);
  if (wb.total <= 32) {
    BuildQuantizedAs<std::uint32_t>(rows, n, q, wb.shift_h, wb.shift_g, count_bits, out);
  } else if (wb.total <= 64) {
    BuildQuantizedAs<std::uint64_t>(rows, n, q, wb.shift_h, wb.shift_g, count_bits, out);
  } else {
    Build(rows, n, gh, out);  // too many rows for 8 bytes: the 16-byte bins of gh
  }
}

int QuantizedBinBytes(std::int64_t rows, int levels) {
  return HistogramBuilder::QuantBinBytes(rows, levels);
}

void HistogramBuilder::Subtract(const HistBin* parent, const HistBin* child, HistBin* out) const {
  for (std::size_t i = 0; i < layout_.total; ++i) {
    out[i].g = parent[i].g - child[i].g;
    out[i].hc = parent[i].hc - child[i].hc;
  }
}

std::vector<HistBin> BuildHistogram(const BinnedMatrix& data, const std::vector<std::uint32_t>& rows,
                                    const std::vector<GradPair>& gh, int n_threads,
                                    HistLayout* layout, const std::vector<QuantGrad>* q,
                                    int levels, int count_bits) {
  *layout = MakeHistLayout(data.Mapper());
  HistogramBuilder builder(data, *layout, n_threads);
  std::vector<HistBin> out(layout->total);
  if (q != nullptr) {
    const bool all = rows.empty();
    builder.BuildQuantized(all ? nullptr : rows.data(),
                           all ? data.NumRows() : static_cast<std::int64_t>(rows.size()),
                           gh.data(), q->data(), levels, count_bits, out.data());
  } else if (rows.empty()) {
    builder.Build(nullptr, data.NumRows(), gh.data(), out.data());
  } else {
    builder.Build(rows.data(), static_cast<std::int64_t>(rows.size()), gh.data(), out.data());
  }
  return out;
}

}  // namespace sapwood
