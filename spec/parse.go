package spec

import "reflect"

// ParseSpec strictly decodes and validates a spec. data may start with the
// "# syntax=" comment line. On failure it returns an ErrorList holding every
// problem found; it never panics on any input.
//
// The returned Spec has its defaults filled in (lock, base, copy sources,
// user home and shell), so consumers read effective values.
func ParseSpec(file string, data []byte) (*Spec, error) {
	root, errs := readDocument(file, "spec", data)
	if errs != nil {
		return nil, errs.err()
	}
	d := newDecoder(file, "spec")
	s := &Spec{File: file}
	d.decode(root, reflect.ValueOf(s).Elem(), "", Pos{}, false)
	s.index = d.index
	s.applyDefaults()
	if d.exhausted() {
		// A document that expands beyond any real one is hostile or broken;
		// validating what was decoded of it would only add noise.
		return nil, d.errs.err()
	}
	errs = append(d.errs, s.validate(d.failed)...)
	if err := errs.err(); err != nil {
		return nil, err
	}
	return s, nil
}

// applyDefaults fills in what an unset field means, in one place, so that
// the LLB builder and the SBOM agree on it.
func (s *Spec) applyDefaults() {
	if s.Lock == "" {
		s.Lock = DefaultLockFile
	}
	if s.Base == "" {
		s.Base = DefaultBase
	}
	for i := range s.Copy {
		if s.Copy[i].From == "" {
			s.Copy[i].From = DefaultCopyFrom
		}
	}
	for i := range s.Accounts.Users {
		if s.Accounts.Users[i].Home == "" {
			s.Accounts.Users[i].Home = DefaultHome
		}
		if s.Accounts.Users[i].Shell == "" {
			s.Accounts.Users[i].Shell = DefaultShell
		}
	}
}
