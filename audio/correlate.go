package audio

import (
	"math"
	"math/bits"
	"math/cmplx"
	"time"
)

// Correlate finds where a occurs in b: it returns the highest normalised cross-correlation
// coefficient between them over lags in [−maxLag, +maxLag], and that lag. A positive lag means
// b is late: a[i] lines up with b[i+lag]. It exists for tests that must prove a recording
// carries the audio that was sent (through a PBX, a codec, a −6 dB Local channel), so:
//
//   - both signals are downmixed to mono, b is resampled to a's rate, and each signal's mean is
//     removed;
//   - the coefficient at each lag is normalised by the energy of the overlapping parts only, so
//     a short prompt found inside a long recording (with other sounds elsewhere) scores 1, and
//     a level change (−6 dB) does not lower it;
//   - a lag counts only if the overlap covers at least half of the shorter signal, so a few
//     samples of chance overlap at the ends cannot win;
//   - the sign is kept: an inverted copy scores −1 at its lag, so it does not count as found.
//
// Silence, an empty input or a failed resample give (0, 0). The work is O(n log n) (FFT).
func Correlate(a, b PCM, maxLag time.Duration) (coef float64, lag time.Duration) {
	if a.Empty() || b.Empty() || a.Rate <= 0 {
		return 0, 0
	}
	b, err := Resample(Mono(b), a.Rate)
	if err != nil {
		return 0, 0
	}
	x, y := centred(Mono(a).Samples), centred(b.Samples)
	na, nb := len(x), len(y)
	maxL := min(samplesOf(maxLag, a.Rate), max(na, nb))
	minOverlap := max((min(na, nb)+1)/2, 1)

	// r[L] = Σ x[i]·y[i+L], from one FFT product of length ≥ na+nb−1: the circular correlation
	// holds lag L ≥ 0 at index L and lag L < 0 at index size+L.
	size := 1 << bits.Len(uint(na+nb-1))
	fx, fy := make([]complex128, size), make([]complex128, size)
	for i, v := range x {
		fx[i] = complex(v, 0)
	}
	for i, v := range y {
		fy[i] = complex(v, 0)
	}
	fft(fx, false)
	fft(fy, false)
	for i := range fx {
		fx[i] = cmplx.Conj(fx[i]) * fy[i]
	}
	fft(fx, true)

	px, py := prefixEnergy(x), prefixEnergy(y)
	best, bestLag := math.Inf(-1), 0
	for L := -maxL; L <= maxL; L++ {
		lo, hi := max(0, -L), min(na, nb-L) // overlap: x[lo:hi] against y[lo+L:hi+L]
		if hi-lo < minOverlap {
			continue
		}
		ex, ey := px[hi]-px[lo], py[hi+L]-py[lo+L]
		if ex <= 0 || ey <= 0 {
			continue
		}
		idx := L
		if idx < 0 {
			idx += size
		}
		c := real(fx[idx]) / float64(size) / math.Sqrt(ex*ey)
		if c > best || (c == best && abs(L) < abs(bestLag)) {
			best, bestLag = c, L
		}
	}
	if math.IsInf(best, -1) {
		return 0, 0
	}
	best = max(min(best, 1), -1) // FFT rounding can step past ±1 by a few ulps
	return best, time.Duration(int64(bestLag) * int64(time.Second) / int64(a.Rate))
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func centred(s []int16) []float64 {
	var sum float64
	for _, v := range s {
		sum += float64(v)
	}
	mean := sum / float64(len(s))
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = float64(v) - mean
	}
	return out
}

// prefixEnergy returns p with p[i] = Σ v[j]² for j < i.
func prefixEnergy(v []float64) []float64 {
	p := make([]float64, len(v)+1)
	for i, s := range v {
		p[i+1] = p[i] + s*s
	}
	return p
}

// fft is an in-place iterative radix-2 FFT; len(a) must be a power of two. inverse leaves the
// result unscaled (the caller divides by len(a)).
func fft(a []complex128, inverse bool) {
	n := len(a)
	shift := 64 - uint(bits.Len(uint(n-1))) // a shift of 64 gives 0 (n == 1)
	for i := range n {
		if j := int(bits.Reverse64(uint64(i)) >> shift); i < j {
			a[i], a[j] = a[j], a[i]
		}
	}
	sign := -1.0
	if inverse {
		sign = 1
	}
	// Twiddles computed directly, not by repeated multiplication, so long transforms keep
	// their precision.
	tw := make([]complex128, n/2)
	for k := range tw {
		tw[k] = cmplx.Rect(1, sign*2*math.Pi*float64(k)/float64(n))
	}
	for size := 2; size <= n; size <<= 1 {
		half, stride := size/2, n/size
		for start := 0; start < n; start += size {
			for k := range half {
				u, v := a[start+k], a[start+k+half]*tw[k*stride]
				a[start+k], a[start+k+half] = u+v, u-v
			}
		}
	}
}
