package check

import "io"

// ParseELF exposes the loader's view of an ELF file to the tests.
func ParseELF(r io.ReaderAt) (interp string, needed []string, rpath string, err error) {
	e, err := parseELF(r)
	if err != nil {
		return "", nil, "", err
	}
	return e.interp, e.needed, e.rpath, nil
}

// IsLoaderItself exposes musl's reserved names to the tests.
var IsLoaderItself = isLoaderItself
