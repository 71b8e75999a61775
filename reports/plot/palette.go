package plot

import (
	"fmt"
	"hash/fnv"
	"image/color"
)

// The palette is fixed and keyed by name, so a model has the same colour and
// marker in every chart of every report (Okabe–Ito colours, safe for the
// common colour-vision deficiencies; the marker tells them apart in grey).
var palette = map[string]style{
	"thread":    {rgb(0xD5, 0x5E, 0x00), "triangle"},
	"eventloop": {rgb(0x00, 0x72, 0xB2), "circle"},
	"offload":   {rgb(0x00, 0x9E, 0x73), "square"},
	"cluster":   {rgb(0xCC, 0x79, 0xA7), "diamond"},
	"goroutine": {rgb(0xE6, 0x9F, 0x00), "cross"},

	// Regex engines of the ReDoS chart (not models).
	"backtrack": {rgb(0x00, 0x00, 0x00), "circle"},
	"re2":       {rgb(0x56, 0xB4, 0xE9), "square"},

	// Invalid (generator-bound) figures, reference lines and neutral keys.
	KeyInvalid: {rgb(0x9E, 0x9E, 0x9E), "ring"},
	KeyBlack:   {rgb(0x20, 0x20, 0x20), "circle"},
	KeyRef:     {rgb(0x70, 0x70, 0x70), ""},
}

// Keys of the palette that are not models.
const (
	KeyInvalid = "invalid" // invalid figures: grey, hollow
	KeyBlack   = "black"   // neutral legend samples (percentile dashes, spread)
	KeyRef     = "ref"     // reference lines (achieved = offered)
)

// extra colours for models this package does not know, chosen by a hash of
// the name so that they too stay the same everywhere.
var extra = []style{
	{rgb(0x88, 0x22, 0x55), "square"},
	{rgb(0x44, 0xAA, 0x99), "plus"},
	{rgb(0x33, 0x22, 0x88), "diamond"},
	{rgb(0x99, 0x99, 0x33), "triangle"},
	{rgb(0xAA, 0x44, 0x99), "circle"},
}

type style struct {
	color color.RGBA
	glyph string
}

func rgb(r, g, b uint8) color.RGBA { return color.RGBA{r, g, b, 0xFF} }

func styleOf(key string) style {
	if s, ok := palette[key]; ok {
		return s
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return extra[h.Sum32()%uint32(len(extra))]
}

// RGBA returns the colour of a model (or chart key).
func RGBA(key string) color.RGBA { return styleOf(key).color }

// Color returns the colour of a model (or chart key) as "#rrggbb".
func Color(key string) string {
	c := styleOf(key).color
	return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B)
}
