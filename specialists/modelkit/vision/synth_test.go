package vision

import (
	"errors"
	"image"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/orchestrate-dev/orchestrate/specialists/modelkit/evaluate"
)

func labels(s []Sample) []float64 {
	y := make([]float64, len(s))
	for i := range s {
		y[i] = label(s[i])
	}
	return y
}

func images(s []Sample) []Image {
	out := make([]Image, len(s))
	for i := range s {
		out[i] = s[i].Image
	}
	return out
}

// auc is the ROC AUC of p on the samples' defect labels.
func auc(t testing.TB, s []Sample, p []float64) float64 {
	t.Helper()
	m, err := evaluate.Score(labels(s), p, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	return m.ROCAUC
}

// darkness scores each frame by how dark it is on average: the trivial
// detector, since every defect but a bright scratch darkens the part.
func darkness(s []Sample) []float64 {
	p := make([]float64, len(s))
	for i := range s {
		for _, v := range s[i].Image.Pix {
			p[i] += v
		}
		p[i] = 1 - p[i]/float64(len(s[i].Image.Pix))
	}
	return p
}

func synth(t testing.TB, cfg SynthConfig) []Sample {
	t.Helper()
	s, err := Synthesize(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSynthesizeIsDeterministic(t *testing.T) {
	for _, surface := range []Surface{Brushed, Cast} {
		a := synth(t, SynthConfig{N: 40, Surface: surface, Seed: 9})
		b := synth(t, SynthConfig{N: 40, Surface: surface, Seed: 9})
		c := synth(t, SynthConfig{N: 40, Surface: surface, Seed: 10})
		same, differ := true, false
		for i := range a {
			same = same && a[i].Kind == b[i].Kind && slices.Equal(a[i].Image.Pix, b[i].Image.Pix)
			differ = differ || !slices.Equal(a[i].Image.Pix, c[i].Image.Pix)
		}
		if !same {
			t.Errorf("%s: two runs with seed 9 differ", surface)
		}
		if !differ {
			t.Errorf("%s: seeds 9 and 10 give the same frames", surface)
		}
	}
}

func TestSynthesizeFollowsTheConfig(t *testing.T) {
	for _, c := range []struct {
		cfg  SynthConfig
		size int
		rate float64
	}{
		{SynthConfig{N: 500, Seed: 1}, DefaultSize, 0.3},
		{SynthConfig{N: 333, Size: 16, DefectRate: 0.1, Surface: Cast, Seed: 2}, 16, 0.1},
		{SynthConfig{N: 50, Size: 32, DefectRate: 1, Seed: 3}, 32, 1},
	} {
		s := synth(t, c.cfg)
		if len(s) != c.cfg.N {
			t.Fatalf("%+v: %d samples", c.cfg, len(s))
		}
		kinds := map[Kind]int{}
		for i, smp := range s {
			kinds[smp.Kind]++
			im := smp.Image
			if im.Size != c.size || len(im.Pix) != c.size*c.size {
				t.Fatalf("%+v: sample %d is %d×%d with %d pixels", c.cfg, i, im.Size, im.Size, len(im.Pix))
			}
			for _, v := range im.Pix {
				if !(v >= 0 && v <= 1) || v*255 != math.Round(v*255) {
					t.Fatalf("%+v: sample %d has pixel %v, want a multiple of 1/255 in [0,1]", c.cfg, i, v)
				}
			}
		}
		defects := c.cfg.N - kinds[OK]
		if got := float64(defects) / float64(c.cfg.N); math.Abs(got-c.rate) > 0.5/float64(c.cfg.N) {
			t.Errorf("%+v: %d defects, a rate of %.3f, want %.3f", c.cfg, defects, got, c.rate)
		}
		for k := Scratch; k <= Crack; k++ {
			if share := float64(kinds[k]) / float64(defects); defects >= 50 && (share < 0.2 || share > 0.47) {
				t.Errorf("%+v: %d of %d defects are %v, want about a third", c.cfg, kinds[k], defects, k)
			}
		}
	}
}

func TestSynthesizeHidesDefectsFromGlobalStatistics(t *testing.T) {
	for _, surface := range []Surface{Brushed, Cast} {
		s := synth(t, SynthConfig{N: 1000, Surface: surface, Seed: 4})
		if a := auc(t, s, darkness(s)); a > 0.6 || a < 0.4 {
			t.Errorf("%s: mean darkness ranks defects with ROC AUC %.3f, want near 0.5", surface, a)
		}
		spread := make([]float64, len(s)) // the standard deviation of each frame
		for i := range s {
			m := 1 - darkness(s[i : i+1])[0]
			for _, v := range s[i].Image.Pix {
				spread[i] += (v - m) * (v - m)
			}
			spread[i] = math.Sqrt(spread[i] / float64(len(s[i].Image.Pix)))
		}
		if a := auc(t, s, spread); a > 0.75 {
			t.Errorf("%s: the frame's contrast ranks defects with ROC AUC %.3f, want under 0.75", surface, a)
		}
	}
}

func TestSynthesizeRejectsBadConfigs(t *testing.T) {
	for _, c := range []struct {
		cfg  SynthConfig
		want string
	}{
		{SynthConfig{}, "N is 0"},
		{SynthConfig{N: 5, Size: 4}, "Size is 4"},
		{SynthConfig{N: 5, Size: 5000}, "Size is 5000"},
		{SynthConfig{N: 5, DefectRate: 1.5}, "DefectRate is 1.5"},
		{SynthConfig{N: 5, DefectRate: math.NaN()}, "DefectRate is NaN"},
		{SynthConfig{N: 5, Surface: "wood"}, `Surface is "wood"`},
	} {
		_, err := Synthesize(c.cfg)
		if !errors.Is(err, ErrInvalidInput) || !contains(err, c.want) {
			t.Errorf("%+v: got %v, want an ErrInvalidInput naming %q", c.cfg, err, c.want)
		}
	}
}

func TestKindNames(t *testing.T) {
	got := []string{OK.String(), Scratch.String(), Spot.String(), Crack.String(), Kind(9).String()}
	want := []string{"ok", "scratch", "spot", "crack", "kind(9)"}
	if !slices.Equal(got, want) {
		t.Errorf("kind names %q, want %q", got, want)
	}
	if (Sample{Kind: OK}).Defect() || !(Sample{Kind: Crack}).Defect() {
		t.Error("Defect must be false for OK only")
	}
}

func TestGrayRoundTrip(t *testing.T) {
	for _, smp := range synth(t, SynthConfig{N: 5, Size: 20, Seed: 6}) {
		back, err := FromGray(smp.Image.ToGray())
		if err != nil {
			t.Fatal(err)
		}
		if back.Size != 20 || !slices.Equal(back.Pix, smp.Image.Pix) {
			t.Fatal("FromGray(ToGray) changed a synthetic frame")
		}
	}

	// A sub-image has a non-zero origin and a stride wider than its rows.
	big := image.NewGray(image.Rect(0, 0, 10, 8))
	for i := range big.Pix {
		big.Pix[i] = uint8(i)
	}
	sub := big.SubImage(image.Rect(3, 2, 7, 6)).(*image.Gray)
	im, err := FromGray(sub)
	if err != nil {
		t.Fatal(err)
	}
	if im.Size != 4 || im.Pix[0] != float64(2*10+3)/255 || im.Pix[15] != float64(5*10+6)/255 {
		t.Errorf("sub-image read as %d×%d starting %v, ending %v", im.Size, im.Size, im.Pix[0]*255, im.Pix[15]*255)
	}

	for _, bad := range []*image.Gray{nil, image.NewGray(image.Rect(0, 0, 6, 5)), image.NewGray(image.Rect(0, 0, 0, 0))} {
		if _, err := FromGray(bad); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("FromGray(%v): %v, want ErrInvalidInput", bad, err)
		}
	}
	clamped := Image{Size: 2, Pix: []float64{-1, 2, math.NaN(), 0.5}}.ToGray()
	if !slices.Equal(clamped.Pix, []uint8{0, 255, 0, 128}) {
		t.Errorf("out-of-range pixels became %v, want [0 255 0 128]", clamped.Pix)
	}
}

func TestAugmentKeepsSizeAndRange(t *testing.T) {
	s := synth(t, SynthConfig{N: 20, Seed: 7})
	a := Augment{FlipH: true, FlipV: true, Rotate90: true, Brightness: 0.3, Noise: 0.1}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, smp := range s {
		before := slices.Clone(smp.Image.Pix)
		out := a.Apply(smp.Image, rng)
		if out.Size != smp.Image.Size || len(out.Pix) != len(before) {
			t.Fatalf("augmented %d×%d into %d×%d", smp.Image.Size, smp.Image.Size, out.Size, out.Size)
		}
		for _, v := range out.Pix {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("augmented pixel %v outside [0,1]", v)
			}
		}
		if !slices.Equal(smp.Image.Pix, before) {
			t.Fatal("Apply changed its input")
		}
		if slices.Equal(out.Pix, before) {
			t.Fatal("brightness and noise left the image as it was")
		}
	}
	again := a.Apply(s[0].Image, rand.New(rand.NewPCG(5, 5)))
	if !slices.Equal(again.Pix, a.Apply(s[0].Image, rand.New(rand.NewPCG(5, 5))).Pix) {
		t.Error("the same rng state gave two different augmentations")
	}
}

// TestAugmentTurnsAndFlips follows one lit pixel through the geometric
// augmentations: quarter turns must reach exactly its four rotations, and
// the flips with them all eight symmetries of the square.
func TestAugmentTurnsAndFlips(t *testing.T) {
	im := Image{Size: 4, Pix: make([]float64, 16)}
	im.Pix[0*4+1] = 1 // (x=1, y=0)
	where := func(a Augment, seed uint64) map[[2]int]bool {
		seen := map[[2]int]bool{}
		rng := rand.New(rand.NewPCG(seed, 0))
		for range 200 {
			out := a.Apply(im, rng)
			i := slices.Index(out.Pix, 1)
			seen[[2]int{i % 4, i / 4}] = true
			if slices.Max(out.Pix) != 1 || slices.Min(out.Pix) != 0 || sum(out.Pix) != 1 {
				t.Fatalf("a flip or turn did not move the pixels as a whole: %v", out.Pix)
			}
		}
		return seen
	}
	turns := where(Augment{Rotate90: true}, 1)
	want := map[[2]int]bool{{1, 0}: true, {3, 1}: true, {2, 3}: true, {0, 2}: true}
	if len(turns) != 4 {
		t.Errorf("quarter turns put the pixel at %v, want the 4 rotations %v", turns, want)
	}
	for p := range turns {
		if !want[p] {
			t.Errorf("quarter turns put the pixel at %v, not a rotation of (1,0)", p)
		}
	}
	if all := where(Augment{FlipH: true, FlipV: true, Rotate90: true}, 2); len(all) != 8 {
		t.Errorf("flips and turns put the pixel at %d places, want the 8 symmetries", len(all))
	}
	if none := where(Augment{}, 3); len(none) != 1 || !none[[2]int{1, 0}] {
		t.Errorf("an empty Augment moved the pixel to %v", none)
	}
}

func sum(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s
}
