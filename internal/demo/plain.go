package demo

import "io"

// PlainWriter drops terminal escape sequences (CSI "ESC [ … final", OSC
// "ESC ] … BEL or ESC \", and two-byte "ESC x") from what it passes on, so
// that a log file reads as text whatever the writer (buildx colours its
// warnings) sent. A sequence may span writes.
type PlainWriter struct {
	w     io.Writer
	state int
}

const (
	text = iota
	esc  // after ESC
	csi  // inside ESC [ …
	osc  // inside ESC ] …
	oscEsc
)

// NewPlainWriter returns a PlainWriter onto w.
func NewPlainWriter(w io.Writer) *PlainWriter { return &PlainWriter{w: w} }

// Write passes p on without its escape sequences and reports all of p
// written.
func (p *PlainWriter) Write(b []byte) (int, error) {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		switch p.state {
		case text:
			if c == 0x1b {
				p.state = esc
			} else {
				out = append(out, c)
			}
		case esc:
			switch c {
			case '[':
				p.state = csi
			case ']':
				p.state = osc
			default:
				p.state = text
			}
		case csi:
			if c >= 0x40 && c <= 0x7e {
				p.state = text
			}
		case osc:
			switch c {
			case 0x07:
				p.state = text
			case 0x1b:
				p.state = oscEsc
			}
		case oscEsc:
			p.state = text
		}
	}
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}
