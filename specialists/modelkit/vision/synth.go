package vision

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Kind is what a frame shows: a good part or one kind of defect.
type Kind uint8

// The kinds of frame. Every kind but OK is a defect.
const (
	OK Kind = iota
	Scratch
	Spot
	Crack
)

var kindNames = [...]string{"ok", "scratch", "spot", "crack"}

// String returns "ok", "scratch", "spot" or "crack".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Sample is one labelled camera frame.
type Sample struct {
	Image Image `json:"image"`
	Kind  Kind  `json:"kind"`
}

// Defect reports whether the frame shows a defect, the positive class.
func (s Sample) Defect() bool { return s.Kind != OK }

// Surface is the texture of the inspected parts.
type Surface string

// The surfaces Synthesize renders.
const (
	Brushed Surface = "brushed" // fine horizontal grain, rows of slightly different brightness
	Cast    Surface = "cast"    // speckle, blotchy shading and small pores
)

// DefaultSize is the side of the frames Synthesize makes and Train
// expects when their Size is 0.
const DefaultSize = 24

// SynthConfig describes a synthetic set of frames.
type SynthConfig struct {
	N          int     // images
	Size       int     // pixels per side; 0 means DefaultSize (24)
	DefectRate float64 // share of images with a defect; 0 means 0.3
	Surface    Surface // texture of the parts; "" means Brushed
	Seed       uint64
}

// minSynthSize leaves room for a defect inside the frame.
const minSynthSize = 8

func (c SynthConfig) withDefaults() (SynthConfig, error) {
	if c.Size == 0 {
		c.Size = DefaultSize
	}
	if c.DefectRate == 0 {
		c.DefectRate = 0.3
	}
	if c.Surface == "" {
		c.Surface = Brushed
	}
	switch {
	case c.N < 1:
		return c, fmt.Errorf("%w: SynthConfig.N is %d, want at least 1", ErrInvalidInput, c.N)
	case c.Size < minSynthSize || c.Size > maxSize:
		return c, fmt.Errorf("%w: SynthConfig.Size is %d, want %d to %d (or 0 for %d)", ErrInvalidInput, c.Size, minSynthSize, maxSize, DefaultSize)
	case !(c.DefectRate > 0 && c.DefectRate <= 1):
		return c, fmt.Errorf("%w: SynthConfig.DefectRate is %v, want a share in (0,1] (or 0 for 0.3)", ErrInvalidInput, c.DefectRate)
	case c.Surface != Brushed && c.Surface != Cast:
		return c, fmt.Errorf("%w: SynthConfig.Surface is %q, want %q or %q", ErrInvalidInput, c.Surface, Brushed, Cast)
	}
	return c, nil
}

// Synthesize makes N camera frames of parts: the surface texture (brushed:
// fine horizontal grain; cast: speckle/porosity), camera variation
// (brightness offset, gain, gaussian sensor noise, a lighting gradient and
// a vignette whose centre shifts a little from frame to frame), and on
// DefectRate of them one defect: scratch (a thin line at a random angle,
// brighter or darker), spot (a small dark pit) or crack (a jagged dark
// polyline), the three equally likely. Exactly round(N·DefectRate) frames
// have a defect, in random positions of the slice.
//
// The camera variation is much larger than what a defect does to the
// frame's mean, and some defects are faint next to the texture and the
// noise (the pores of a cast part look like small spots), so no global
// statistic separates the classes: a detector has to find a local shape.
// Pixels are rounded to 8 bits, as a camera delivers them, so ToGray is
// lossless. The result is the same for the same SynthConfig.
func Synthesize(cfg SynthConfig) ([]Sample, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("synthesize: %w", err)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed0f5a3b1e5))
	kinds := make([]Kind, cfg.N)
	for i := range int(math.Round(cfg.DefectRate * float64(cfg.N))) {
		kinds[i] = Kind(1 + rng.IntN(3))
	}
	rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })

	r := newRenderer(cfg.Size, cfg.Surface, rng)
	out := make([]Sample, cfg.N)
	for i, k := range kinds {
		out[i] = Sample{Image: r.frame(k), Kind: k}
	}
	return out, nil
}

// renderer draws frames of one size and surface; its buffers are reused
// from frame to frame.
type renderer struct {
	size    int
	surface Surface
	rng     *rand.Rand
	tex     []float64 // surface relief around 0, in units of reflected light
}

func newRenderer(size int, surface Surface, rng *rand.Rand) *renderer {
	return &renderer{size: size, surface: surface, rng: rng, tex: make([]float64, size*size)}
}

// uniform returns a value drawn uniformly from [lo, hi).
func (r *renderer) uniform(lo, hi float64) float64 { return lo + (hi-lo)*r.rng.Float64() }

// frame renders one frame of a part showing k.
func (r *renderer) frame(k Kind) Image {
	n := r.size
	clear(r.tex)
	if r.surface == Cast {
		r.cast()
	} else {
		r.brushed()
	}
	switch k {
	case Scratch:
		r.scratch()
	case Spot:
		r.spot()
	case Crack:
		r.crack()
	}

	// The camera: exposure and gain vary between frames, the light falls
	// off towards one side and towards the corners, and the sensor adds
	// noise. The spread of the frame mean this causes (about ±0.15) dwarfs
	// what a defect of a few pixels does to it.
	base := r.uniform(0.35, 0.65)
	gain := r.uniform(0.75, 1.25)
	gx, gy := r.uniform(-0.08, 0.08), r.uniform(-0.08, 0.08)
	vig := r.uniform(0, 0.15)
	cx, cy := float64(n-1)/2+r.uniform(-2, 2), float64(n-1)/2+r.uniform(-2, 2)
	noise := r.uniform(0.01, 0.03)
	half := float64(n) / 2
	im := Image{Size: n, Pix: make([]float64, n*n)}
	for y := range n {
		for x := range n {
			fx, fy := float64(x)/float64(n-1)-0.5, float64(y)/float64(n-1)-0.5
			dx, dy := (float64(x)-cx)/half, (float64(y)-cy)/half
			v := base*(1-vig*(dx*dx+dy*dy)) + gain*r.tex[y*n+x] + gx*fx + gy*fy + noise*r.rng.NormFloat64()
			im.Pix[y*n+x] = float64(toByte(v)) / 255
		}
	}
	return im
}

// brushed draws the grain of a brushed part: each row a little brighter
// or darker than the next, and along each row a slowly wandering relief.
func (r *renderer) brushed() {
	n := r.size
	rough := r.uniform(0.5, 1.2)
	for y := range n {
		off := 0.015 * r.rng.NormFloat64()
		e := 0.03 * r.rng.NormFloat64()
		for x := range n {
			// An AR(1) walk along the row: correlated over several pixels,
			// with a stationary spread of 0.03.
			e = 0.8*e + 0.018*r.rng.NormFloat64()
			r.tex[y*n+x] = rough * (off + e)
		}
	}
}

// cast draws the surface of a cast part: fine speckle, blotchy shading and
// pores, small shallow pits that a detector must not take for spots.
func (r *renderer) cast() {
	n := r.size
	rough := r.uniform(0.5, 1.2)
	// Blotches: a coarse grid of random levels, bilinearly interpolated.
	const grid = 4
	var g [grid + 1][grid + 1]float64
	for i := range g {
		for j := range g[i] {
			g[i][j] = 0.03 * r.rng.NormFloat64()
		}
	}
	cell := float64(n-1) / grid
	for y := range n {
		for x := range n {
			fy, fx := float64(y)/cell, float64(x)/cell
			i, j := min(int(fy), grid-1), min(int(fx), grid-1)
			ty, tx := fy-float64(i), fx-float64(j)
			b := (1-ty)*((1-tx)*g[i][j]+tx*g[i][j+1]) + ty*((1-tx)*g[i+1][j]+tx*g[i+1][j+1])
			r.tex[y*n+x] = rough * (b + 0.025*r.rng.NormFloat64())
		}
	}
	for range n * n / 50 {
		cx, cy := r.uniform(0, float64(n)), r.uniform(0, float64(n))
		r.blob(cx, cy, r.uniform(0.4, 0.8), -r.uniform(0.03, 0.1))
	}
}

// scratch draws a thin straight line at a random angle, brighter (a burr
// that catches the light) or darker (a groove) than the surface.
func (r *renderer) scratch() {
	n := float64(r.size)
	cx, cy := r.uniform(2, n-3), r.uniform(2, n-3)
	theta := r.uniform(0, math.Pi)
	half := r.uniform(0.125, 0.3) * n
	dx, dy := half*math.Cos(theta), half*math.Sin(theta)
	c := r.uniform(0.08, 0.25)
	if r.rng.IntN(2) == 0 {
		c = -c
	}
	r.polyline([]float64{cx - dx, cy - dy, cx + dx, cy + dy}, r.uniform(0.45, 0.8), c)
}

// spot draws a small dark pit.
func (r *renderer) spot() {
	n := float64(r.size)
	r.blob(r.uniform(2, n-3), r.uniform(2, n-3), r.uniform(0.9, 1.8), -r.uniform(0.12, 0.3))
}

// crack draws a dark jagged line: a few short segments whose direction
// wanders.
func (r *renderer) crack() {
	n := float64(r.size)
	x, y := r.uniform(3, n-4), r.uniform(3, n-4)
	theta := r.uniform(0, 2*math.Pi)
	pts := []float64{x, y}
	for range 4 + r.rng.IntN(4) {
		theta += 0.7 * r.rng.NormFloat64()
		step := r.uniform(1.5, 3.5)
		x, y = x+step*math.Cos(theta), y+step*math.Sin(theta)
		pts = append(pts, x, y)
	}
	r.polyline(pts, r.uniform(0.4, 0.7), -r.uniform(0.12, 0.3))
}

// blob adds a gaussian bump of the given width (standard deviation, in
// pixels) and height c centred at (cx, cy).
func (r *renderer) blob(cx, cy, width, c float64) {
	n := r.size
	for y := range n {
		for x := range n {
			dx, dy := float64(x)-cx, float64(y)-cy
			r.tex[y*n+x] += c * math.Exp(-(dx*dx+dy*dy)/(2*width*width))
		}
	}
}

// polyline adds a line through the points pts (x0, y0, x1, y1, ...) whose
// cross-section is a gaussian of the given width and height c.
func (r *renderer) polyline(pts []float64, width, c float64) {
	n := r.size
	for y := range n {
		for x := range n {
			d2 := math.Inf(1)
			for i := 0; i+3 < len(pts); i += 2 {
				d2 = min(d2, segmentDist2(float64(x), float64(y), pts[i], pts[i+1], pts[i+2], pts[i+3]))
			}
			r.tex[y*n+x] += c * math.Exp(-d2/(2*width*width))
		}
	}
}

// segmentDist2 returns the squared distance from (px, py) to the segment
// from (ax, ay) to (bx, by).
func segmentDist2(px, py, ax, ay, bx, by float64) float64 {
	vx, vy := bx-ax, by-ay
	t := 0.0
	if l2 := vx*vx + vy*vy; l2 > 0 {
		t = min(max(((px-ax)*vx+(py-ay)*vy)/l2, 0), 1)
	}
	dx, dy := px-(ax+t*vx), py-(ay+t*vy)
	return dx*dx + dy*dy
}
