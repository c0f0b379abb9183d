#include "histogram.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <stdexcept>
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

template <class T>
void HugeArray<T>::Allocate(std::size_t n) {
  std::free(p_);
  p_ = nullptr;
  constexpr std::size_t kHuge = std::size_t{1} << 21;
  const std::size_t bytes = std::max<std::size_t>(n * sizeof(T), 1);
  const bool huge = bytes >= kHuge;
  // aligned_alloc needs a size that is a multiple of the alignment
  const std::size_t align = huge ? kHuge : 64;
  void* p = std::aligned_alloc(align, (bytes + align - 1) / align * align);
  if (p == nullptr) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  if (huge) (void)madvise(p, (bytes + align - 1) / align * align, MADV_HUGEPAGE);  // a hint only
#endif
  p_ = static_cast<T*>(p);
}
template class HugeArray<BinU8>;
template class HugeArray<BinU16>;

HistogramBuilder::HistogramBuilder(const BinnedMatrix& data, const HistLayout& layout,
                                   int n_threads)
    : layout_(layout), n_threads_(n_threads), n_features_(data.NumFeatures()),
      wide_(data.IsWide()) {
  const std::int64_t n = data.NumRows();
  const int nf = n_features_;
  const std::size_t total = static_cast<std::size_t>(n) * static_cast<std::size_t>(nf);
  if (wide_) {
    rm16_.Allocate(total);
  } else {
    rm8_.Allocate(total);
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
  const int* active = active_.empty() ? nullptr : active_.data();
  const int n_active = static_cast<int>(active_.size());
  constexpr std::int64_t kPrefetch = 32;
  for (std::int64_t i = begin; i < end; ++i) {
    const std::size_t r = rows ? rows[i] : static_cast<std::size_t>(i);
    if (rows && i + kPrefetch < end) {
      __builtin_prefetch(rm + static_cast<std::size_t>(rows[i + kPrefetch]) * nf);
      __builtin_prefetch(gh + rows[i + kPrefetch]);
    }
    const BinT* b = rm + r * static_cast<std::size_t>(nf);
    const std::int64_t g = gh[r].g, hc = gh[r].hc;
    if (active == nullptr) {
      for (int f = 0; f < nf; ++f) {
        HistBin& e = out[off[f] + b[f]];
        e.g += g;
        e.hc += hc;
      }
    } else {
      for (int j = 0; j < n_active; ++j) {
        const int f = active[j];
        HistBin& e = out[off[f] + b[f]];
        e.g += g;
        e.hc += hc;
      }
    }
  }
}

void HistogramBuilder::SetFeatures(const std::vector<int>& features) {
  if (static_cast<int>(features.size()) >= n_features_) {
    active_.clear();
  } else {
    active_ = features;
  }
}

namespace {

// The work split of a histogram build over `threads` threads: `pieces` row ranges handed out
// dynamically, so a thread the OS deschedules (a busy machine) holds back at most one small
// piece while the others take the rest, instead of a static half of the rows. Each thread adds
// its pieces into its own buffer; the sums are exact integers, so the histogram does not
// depend on which thread took which piece.
struct BuildSplit {
  int threads, pieces;
};

BuildSplit SplitRows(std::int64_t n, int n_threads) {
  const int threads = static_cast<int>(
      std::max<std::int64_t>(1, std::min<std::int64_t>(n_threads, 1 + n / 8192)));
  if (threads <= 1) return {1, 1};
  const std::int64_t pieces = std::clamp<std::int64_t>(n / 4096, threads, 4 * threads);
  return {threads, static_cast<int>(pieces)};
}

}  // namespace

void HistogramBuilder::Build(const std::uint32_t* rows, std::int64_t n, const GradPair* gh,
                             HistBin* out) {
  const std::size_t total = layout_.total;
  std::memset(static_cast<void*>(out), 0, total * sizeof(HistBin));
  if (n <= 0) return;
  const BuildSplit sp = SplitRows(n, n_threads_);
  if (sp.threads <= 1) {
    if (wide_) {
      BuildRange(rm16_.data(), rows, 0, n, gh, out);
    } else {
      BuildRange(rm8_.data(), rows, 0, n, gh, out);
    }
    return;
  }
  std::vector<char> used(static_cast<std::size_t>(sp.threads), 0);
  ParallelForDynamic(0, sp.pieces, sp.threads, [&](std::int64_t c) {
    const int t = ThreadIndex();
    const std::int64_t b = n * c / sp.pieces, e = n * (c + 1) / sp.pieces;
    HistBin* dst = out;  // thread 0 adds into out
    if (t > 0) {
      auto& buf = thread_bufs_[static_cast<std::size_t>(t)];
      if (!used[static_cast<std::size_t>(t)]) {
        used[static_cast<std::size_t>(t)] = 1;
        if (buf.size() != total) buf.resize(total);
        std::memset(static_cast<void*>(buf.data()), 0, total * sizeof(HistBin));
      }
      dst = buf.data();
    }
    if (wide_) {
      BuildRange(rm16_.data(), rows, b, e, gh, dst);
    } else {
      BuildRange(rm8_.data(), rows, b, e, gh, dst);
    }
  });
  // Reduce the threads' histograms into out, split over bins.
  const std::int64_t kSlab = 1024;
  const std::int64_t n_slabs = (static_cast<std::int64_t>(total) + kSlab - 1) / kSlab;
  ParallelForDynamic(0, n_slabs, n_threads_, [&](std::int64_t s) {
    const std::size_t b = static_cast<std::size_t>(s * kSlab);
    const std::size_t e = std::min(total, b + kSlab);
    for (int c = 1; c < sp.threads; ++c) {
      if (!used[static_cast<std::size_t>(c)]) continue;
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

int Bits(std::uint64_t v) { return v == 0 ? 0 : 64 - __builtin_clzll(v); }

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

// The largest row count whose word fits `bits` (every field width grows with n).
std::int64_t MaxRowsFor(int bits, int levels) {
  std::int64_t lo = 1, hi = std::int64_t{1} << 40;
  while (lo < hi) {
    const std::int64_t mid = lo + (hi - lo + 1) / 2;
    if (WordBits(mid, levels).total <= bits) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

// g, h, c as a word of format f (the inverse of WidenWord; g may be negative: two's complement).
template <class Word>
inline Word PackWord(std::int64_t g, std::int64_t h, std::int64_t c, const HistFormat& f) {
  return (static_cast<Word>(g) << f.shift_g) + (static_cast<Word>(h) << f.shift_h) +
         static_cast<Word>(c);
}

}  // namespace

int HistogramBuilder::QuantBinBytes(std::int64_t n, int levels) {
  const int total = WordBits(n, levels).total;
  return total <= 32 ? 4 : total <= 64 ? 8 : 16;
}

HistFormat HistogramBuilder::QuantFormat(std::int64_t n, int levels) {
  const int bytes = QuantBinBytes(n, levels);
  if (bytes == 16) return {};
  // the layout of the largest node of this width: a node's sums fit it, and so do those of
  // every smaller node, so the histograms of one width share one layout
  const QuantWordBits wb = WordBits(MaxRowsFor(bytes * 8, levels), levels);
  return {bytes, wb.shift_h, wb.shift_g};
}

template <class BinT, class Word>
void HistogramBuilder::BuildQuantRange(const BinT* rm, const std::uint32_t* rows,
                                       std::int64_t begin, std::int64_t end, const QuantGrad* q,
                                       int shift_h, int shift_g,
                                       AliasWord<Word>* out) const {
  using SWord = std::make_signed_t<Word>;
  const int nf = n_features_;
  const std::uint32_t* off = layout_.offset.data();
  const int* active = active_.empty() ? nullptr : active_.data();
  const int n_active = static_cast<int>(active_.size());
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
    if (active == nullptr) {
      for (int f = 0; f < nf; ++f) out[off[f] + b[f]] += w;
    } else {
      for (int j = 0; j < n_active; ++j) out[off[active[j]] + b[active[j]]] += w;
    }
  }
}

template <class Word>
void HistogramBuilder::BuildQuantizedAs(const std::uint32_t* rows, std::int64_t n,
                                        const QuantGrad* q, int shift_h, int shift_g,
                                        AliasWord<Word>* out) {
  const std::size_t total = layout_.total;
  auto& bufs = [this]() -> std::vector<std::vector<Word>>& {
    if constexpr (sizeof(Word) == 8) {
      return quant64_;
    } else {
      return quant32_;
    }
  }();
  // Pieces handed out dynamically, one buffer per thread (as Build); sums are exact either way.
  std::memset(static_cast<void*>(out), 0, total * sizeof(Word));
  const BuildSplit sp = SplitRows(n, n_threads_);
  if (sp.threads <= 1) {
    if (wide_) {
      BuildQuantRange<BinU16, Word>(rm16_.data(), rows, 0, n, q, shift_h, shift_g, out);
    } else {
      BuildQuantRange<BinU8, Word>(rm8_.data(), rows, 0, n, q, shift_h, shift_g, out);
    }
    return;
  }
  if (static_cast<int>(bufs.size()) < sp.threads) bufs.resize(static_cast<std::size_t>(sp.threads));
  std::vector<char> used(static_cast<std::size_t>(sp.threads), 0);
  ParallelForDynamic(0, sp.pieces, sp.threads, [&](std::int64_t c) {
    const int t = ThreadIndex();
    AliasWord<Word>* dst = out;  // thread 0 adds into out
    if (t > 0) {
      auto& buf = bufs[static_cast<std::size_t>(t)];
      if (!used[static_cast<std::size_t>(t)]) {
        used[static_cast<std::size_t>(t)] = 1;
        if (buf.size() != total) buf.resize(total);
        std::memset(static_cast<void*>(buf.data()), 0, total * sizeof(Word));
      }
      dst = buf.data();
    }
    const std::int64_t b = n * c / sp.pieces, e = n * (c + 1) / sp.pieces;
    if (wide_) {
      BuildQuantRange<BinU16, Word>(rm16_.data(), rows, b, e, q, shift_h, shift_g, dst);
    } else {
      BuildQuantRange<BinU8, Word>(rm8_.data(), rows, b, e, q, shift_h, shift_g, dst);
    }
  });
  // Sum the threads' words into out (exact: see above); the words stay packed.
  const std::int64_t kSlab = 1024;
  const std::int64_t n_slabs = (static_cast<std::int64_t>(total) + kSlab - 1) / kSlab;
  ParallelForDynamic(0, n_slabs, n_threads_, [&](std::int64_t s) {
    const std::size_t b = static_cast<std::size_t>(s * kSlab);
    const std::size_t e = std::min(total, b + kSlab);
    for (int c = 1; c < sp.threads; ++c) {
      if (!used[static_cast<std::size_t>(c)]) continue;
      const Word* src = bufs[static_cast<std::size_t>(c)].data();
      for (std::size_t i = b; i < e; ++i) out[i] += src[i];
    }
  });
}

void HistogramBuilder::BuildQuantized(const std::uint32_t* rows, std::int64_t n,
                                      const GradPair* gh, const QuantGrad* q, int levels,
                                      HistBin* out) {
  const HistFormat f = QuantFormat(n, levels);
  if (f.bytes == 4) {
    HistWord32* w = reinterpret_cast<HistWord32*>(out);
    if (n <= 0) {
      std::memset(static_cast<void*>(w), 0, layout_.total * sizeof(std::uint32_t));
      return;
    }
    BuildQuantizedAs<std::uint32_t>(rows, n, q, f.shift_h, f.shift_g, w);
  } else if (f.bytes == 8) {
    BuildQuantizedAs<std::uint64_t>(rows, n, q, f.shift_h, f.shift_g,
                                 reinterpret_cast<HistWord64*>(out));
  } else {
    Build(rows, n, gh, out);  // too many rows for 8 bytes: the 16-byte bins of gh
  }
}

namespace {

// Word / WordS: the plain unsigned types of the two formats.
template <class Word, class WordS>
void SubtractWords(AliasWord<Word>* large, HistFormat fl, const AliasWord<WordS>* small,
                   HistFormat fs, std::size_t total) {
  if constexpr (sizeof(Word) == sizeof(WordS)) {
    if (fl == fs) {
      for (std::size_t i = 0; i < total; ++i) large[i] -= small[i];
      return;
    }
  }
  // a narrower child: its sums re-encoded in the parent's layout (they fit: fewer rows)
  for (std::size_t i = 0; i < total; ++i) {
    const NodeSums s = DecodeWord<WordS>(small[i], fs);
    large[i] -= PackWord<Word>(s.g, s.h, s.c, fl);
  }
}

template <class WordS>
void SubtractFromWide(HistBin* large, const AliasWord<WordS>* small, HistFormat fs,
                      std::size_t total, int count_bits) {
  for (std::size_t i = 0; i < total; ++i) {
    const HistBin s = WidenWord<WordS>(small[i], fs, count_bits);
    large[i].g -= s.g;
    large[i].hc -= s.hc;
  }
}

}  // namespace

void SubtractHistogram(HistBin* large, HistFormat fl, const HistBin* small, HistFormat fs,
                       std::size_t total, int count_bits) {
  if (fs.bytes > fl.bytes) throw std::logic_error("histogram subtraction: child wider than parent");
  const HistWord64* s64 = reinterpret_cast<const HistWord64*>(small);
  const HistWord32* s32 = reinterpret_cast<const HistWord32*>(small);
  if (fl.Wide()) {
    if (fs.Wide()) {
      for (std::size_t i = 0; i < total; ++i) {
        large[i].g -= small[i].g;
        large[i].hc -= small[i].hc;
      }
    } else if (fs.bytes == 8) {
      SubtractFromWide<std::uint64_t>(large, s64, fs, total, count_bits);
    } else {
      SubtractFromWide<std::uint32_t>(large, s32, fs, total, count_bits);
    }
  } else if (fl.bytes == 8) {
    HistWord64* l64 = reinterpret_cast<HistWord64*>(large);
    if (fs.bytes == 8) {
      SubtractWords<std::uint64_t, std::uint64_t>(l64, fl, s64, fs, total);
    } else {
      SubtractWords<std::uint64_t, std::uint32_t>(l64, fl, s32, fs, total);
    }
  } else {
    SubtractWords<std::uint32_t, std::uint32_t>(reinterpret_cast<HistWord32*>(large), fl, s32, fs,
                                                  total);
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
    const std::int64_t n = all ? data.NumRows() : static_cast<std::int64_t>(rows.size());
    std::vector<HistBin> words(layout->total);
    builder.BuildQuantized(all ? nullptr : rows.data(), n, gh.data(), q->data(), levels,
                           words.data());
    // decoded into HistBin as the split search decodes them
    const HistFormat f = HistogramBuilder::QuantFormat(n, levels);
    std::memset(static_cast<void*>(out.data()), 0, out.size() * sizeof(HistBin));
    SubtractHistogram(out.data(), HistFormat{}, words.data(), f, out.size(), count_bits);
    for (auto& b : out) b = {-b.g, -b.hc};
  } else if (rows.empty()) {
    builder.Build(nullptr, data.NumRows(), gh.data(), out.data());
  } else {
    builder.Build(rows.data(), static_cast<std::int64_t>(rows.size()), gh.data(), out.data());
  }
  return out;
}

}  // namespace sapwood
