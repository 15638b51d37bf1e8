package vision

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Augment describes the random changes Train applies to each training
// image every time it is drawn, so that the network learns defects rather
// than the particular frames: a defect is a defect whichever way the part
// lies and however the light falls.
type Augment struct {
	FlipH, FlipV, Rotate90 bool    // random flips and quarter turns
	Brightness             float64 // max |offset| added
	Noise                  float64 // gaussian sigma
}

func (a Augment) check() error {
	if !(a.Brightness >= 0 && a.Brightness <= 1) || !(a.Noise >= 0 && a.Noise <= 1) {
		return fmt.Errorf("%w: Augment has Brightness %v and Noise %v, want each in [0,1]", ErrInvalidInput, a.Brightness, a.Noise)
	}
	return nil
}

// Apply returns a new image: im flipped left-right and top-bottom each
// with probability 1/2 when FlipH and FlipV are set, turned by a random
// number of quarter turns when Rotate90 is set, shifted in brightness by a
// uniform offset in ±Brightness and given gaussian noise of sigma Noise,
// then clamped to [0,1]. The draws come from rng, in that order; a nil rng
// stands for one seeded with 0. A malformed im (Pix not Size² long) comes
// back as an unchanged copy.
func (a Augment) Apply(im Image, rng *rand.Rand) Image {
	if rng == nil {
		rng = rand.New(rand.NewPCG(0, 0))
	}
	n := im.Size
	if n < 1 || len(im.Pix) != n*n {
		return im.clone()
	}
	flipH := a.FlipH && rng.IntN(2) == 1
	flipV := a.FlipV && rng.IntN(2) == 1
	turns := 0
	if a.Rotate90 {
		turns = rng.IntN(4)
	}
	offset := 0.0
	if a.Brightness > 0 {
		offset = a.Brightness * (2*rng.Float64() - 1)
	}
	out := Image{Size: n, Pix: make([]float64, n*n)}
	last := n - 1
	for y := range n {
		for x := range n {
			// (sx, sy) is the source pixel of (x, y): undo the turns, then
			// the flips.
			sx, sy := x, y
			for range turns { // a quarter turn clockwise maps (x, y) to (last-y, x)
				sx, sy = sy, last-sx
			}
			if flipH {
				sx = last - sx
			}
			if flipV {
				sy = last - sy
			}
			v := im.Pix[sy*n+sx] + offset
			if a.Noise > 0 {
				v += a.Noise * rng.NormFloat64()
			}
			out.Pix[y*n+x] = clamp01(v)
		}
	}
	return out
}

// clamp01 clamps v to [0,1], taking NaN to 0.
func clamp01(v float64) float64 {
	if !(v > 0) {
		return 0
	}
	return math.Min(v, 1)
}
