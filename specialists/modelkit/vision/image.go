package vision

import (
	"errors"
	"fmt"
	"image"
	"math"
)

var (
	// ErrInvalidInput is wrapped by every error about the arguments:
	// images of the wrong size or with pixels outside [0, 1], an empty
	// training set, a Config or SynthConfig out of range, a pretrained
	// model that does not match the Config.
	ErrInvalidInput = errors.New("vision: invalid input")

	// ErrDiverged is returned by Train when an epoch ends with a training
	// loss that is not finite, usually because LearningRate is too large.
	ErrDiverged = errors.New("vision: training diverged")
)

// maxSize bounds the side of an image, so that a corrupt Size cannot ask
// for gigabytes of buffers. Inspection crops are far smaller.
const maxSize = 1024

// Image is a grayscale image, row-major, pixel values in [0,1].
type Image struct {
	Size int       `json:"size"` // pixels per side; the image is square
	Pix  []float64 `json:"pix"`  // Size*Size values, row by row
}

// check reports whether im is a well-formed image of the given side (any
// side when size is 0).
func (im Image) check(size int) error {
	switch {
	case im.Size < 1 || im.Size > maxSize:
		return fmt.Errorf("%w: image side is %d, want 1 to %d", ErrInvalidInput, im.Size, maxSize)
	case size > 0 && im.Size != size:
		return fmt.Errorf("%w: image is %d×%d, want %d×%d", ErrInvalidInput, im.Size, im.Size, size, size)
	case len(im.Pix) != im.Size*im.Size:
		return fmt.Errorf("%w: %d×%d image has %d pixels, want %d", ErrInvalidInput, im.Size, im.Size, len(im.Pix), im.Size*im.Size)
	}
	for i, v := range im.Pix {
		if !(v >= 0 && v <= 1) { // also catches NaN
			return fmt.Errorf("%w: pixel (%d,%d) is %v, want a value in [0,1]", ErrInvalidInput, i%im.Size, i/im.Size, v)
		}
	}
	return nil
}

// clone returns a copy of im that shares no storage with it.
func (im Image) clone() Image {
	return Image{Size: im.Size, Pix: append([]float64(nil), im.Pix...)}
}

// FromGray converts an 8-bit grayscale image, such as a decoded PNG frame,
// to an Image: pixel value v becomes v/255. It returns an error when g is
// nil, empty, larger than 1024 pixels a side, or not square.
func FromGray(g *image.Gray) (Image, error) {
	if g == nil {
		return Image{}, fmt.Errorf("%w: nil gray image", ErrInvalidInput)
	}
	b := g.Bounds()
	w, h := b.Dx(), b.Dy()
	switch {
	case w != h:
		return Image{}, fmt.Errorf("%w: gray image is %d×%d, want a square", ErrInvalidInput, w, h)
	case w < 1 || w > maxSize:
		return Image{}, fmt.Errorf("%w: gray image is %d×%d, want a side of 1 to %d", ErrInvalidInput, w, h, maxSize)
	case g.Stride < w || len(g.Pix) < (h-1)*g.Stride+w:
		return Image{}, fmt.Errorf("%w: gray image of %d×%d has %d bytes with stride %d", ErrInvalidInput, w, h, len(g.Pix), g.Stride)
	}
	im := Image{Size: w, Pix: make([]float64, w*w)}
	for y := range h {
		row := g.Pix[y*g.Stride : y*g.Stride+w]
		for x, v := range row {
			im.Pix[y*w+x] = float64(v) / 255
		}
	}
	return im, nil
}

// ToGray converts im to an 8-bit grayscale image, rounding each pixel to
// the nearest of the 256 levels; values outside [0,1] are clamped and NaN
// becomes 0. Pixels missing from a malformed Pix stay 0. FromGray(ToGray)
// returns the same image when every pixel is a multiple of 1/255, as those
// of Synthesize are.
func (im Image) ToGray() *image.Gray {
	n := min(max(im.Size, 0), maxSize)
	g := image.NewGray(image.Rect(0, 0, n, n))
	for i := range min(len(im.Pix), n*n) {
		g.Pix[i] = toByte(im.Pix[i])
	}
	return g
}

func toByte(v float64) uint8 {
	if !(v > 0) { // also NaN
		return 0
	}
	if v >= 1 {
		return 255
	}
	return uint8(math.Round(v * 255))
}
