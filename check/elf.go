package check

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// elfInfo is what the loader reads from an ELF file: the program headers'
// PT_INTERP and the PT_DYNAMIC entries. debug/elf also reads the section
// headers, which the loader ignores; a program or library whose headers do
// not parse is reported elf-invalid, an error, because its closure cannot be
// checked while the loader would still run it.
type elfInfo struct {
	class     elf.Class
	machine   elf.Machine
	byteOrder binary.ByteOrder
	typ       elf.Type
	interp    string // PT_INTERP, "" when none
	dynamic   bool   // has PT_DYNAMIC
	needed    []string
	rpath     string // DT_RUNPATH, else DT_RPATH (musl treats both alike)
}

// program reports whether the kernel maps a loader for the file.
func (e *elfInfo) program() bool { return e.interp != "" }

var elfMagic = []byte(elf.ELFMAG)

// parseELF reads the loader's view of an ELF file.
func parseELF(r io.ReaderAt) (*elfInfo, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, err
	}
	e := &elfInfo{class: f.Class, machine: f.Machine, byteOrder: f.ByteOrder, typ: f.Type}
	var dyn *elf.Prog
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP:
			b, err := io.ReadAll(io.LimitReader(p.Open(), 4096))
			if err != nil {
				return nil, fmt.Errorf("PT_INTERP: %w", err)
			}
			if i := bytes.IndexByte(b, 0); i >= 0 {
				b = b[:i]
			}
			if len(b) == 0 {
				return nil, errors.New("PT_INTERP is empty")
			}
			e.interp = string(b)
		case elf.PT_DYNAMIC:
			dyn = p
		}
	}
	if dyn == nil {
		return e, nil
	}
	e.dynamic = true
	if err := e.readDynamic(r, f, dyn); err != nil {
		return nil, fmt.Errorf("PT_DYNAMIC: %w", err)
	}
	return e, nil
}

// readDynamic decodes the dynamic entries and the strings they point to.
func (e *elfInfo) readDynamic(r io.ReaderAt, f *elf.File, dyn *elf.Prog) error {
	data, err := io.ReadAll(io.LimitReader(dyn.Open(), 1<<20))
	if err != nil {
		return err
	}
	size := 16
	if f.Class == elf.ELFCLASS32 {
		size = 8
	}
	var needed []uint64
	var strtab, strsz, rpath, runpath uint64
	var hasRpath, hasRunpath bool
	for off := 0; off+size <= len(data); off += size {
		var tag, val uint64
		if size == 16 {
			tag, val = f.ByteOrder.Uint64(data[off:]), f.ByteOrder.Uint64(data[off+8:])
		} else {
			tag, val = uint64(f.ByteOrder.Uint32(data[off:])), uint64(f.ByteOrder.Uint32(data[off+4:]))
		}
		switch elf.DynTag(tag) {
		case elf.DT_NULL:
			off = len(data)
		case elf.DT_NEEDED:
			needed = append(needed, val)
		case elf.DT_STRTAB:
			strtab = val
		case elf.DT_STRSZ:
			strsz = val
		case elf.DT_RPATH:
			rpath, hasRpath = val, true
		case elf.DT_RUNPATH:
			runpath, hasRunpath = val, true
		}
	}
	if len(needed) == 0 && !hasRpath && !hasRunpath {
		return nil
	}
	strOff, err := fileOffset(f, strtab)
	if err != nil {
		return fmt.Errorf("DT_STRTAB: %w", err)
	}
	str := func(off uint64) (string, error) {
		if strsz != 0 && off >= strsz {
			return "", fmt.Errorf("string offset %d beyond DT_STRSZ %d", off, strsz)
		}
		return readCString(r, strOff+off)
	}
	for _, n := range needed {
		s, err := str(n)
		if err != nil {
			return fmt.Errorf("DT_NEEDED: %w", err)
		}
		e.needed = append(e.needed, s)
	}
	switch {
	case hasRunpath:
		e.rpath, err = str(runpath)
	case hasRpath:
		e.rpath, err = str(rpath)
	}
	return err
}

// fileOffset maps a virtual address to its offset in the file through the
// PT_LOAD segment that holds it.
func fileOffset(f *elf.File, vaddr uint64) (uint64, error) {
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && vaddr >= p.Vaddr && vaddr < p.Vaddr+p.Filesz {
			return p.Off + vaddr - p.Vaddr, nil
		}
	}
	return 0, fmt.Errorf("address %#x is in no PT_LOAD segment", vaddr)
}

// readCString reads a NUL-terminated string at off.
func readCString(ra io.ReaderAt, off uint64) (string, error) {
	var out []byte
	buf := make([]byte, 256)
	for len(out) < 1<<16 {
		n, err := ra.ReadAt(buf, int64(off)+int64(len(out)))
		if i := bytes.IndexByte(buf[:n], 0); i >= 0 {
			return string(append(out, buf[:i]...)), nil
		}
		out = append(out, buf[:n]...)
		if err != nil {
			return "", fmt.Errorf("string at %#x: %w", off, err)
		}
	}
	return "", fmt.Errorf("string at %#x is not terminated", off)
}

// muslArchOf is musl's architecture name for an ELF file's machine, used
// when the options name none.
func muslArchOf(e *elfInfo) string {
	arch := map[elf.Machine]string{
		elf.EM_X86_64: "amd64", elf.EM_AARCH64: "arm64", elf.EM_386: "386", elf.EM_ARM: "arm",
		elf.EM_S390: "s390x", elf.EM_LOONGARCH: "loong64",
	}[e.machine]
	switch {
	case e.machine == elf.EM_RISCV && e.class == elf.ELFCLASS64:
		arch = "riscv64"
	case e.machine == elf.EM_PPC64 && e.byteOrder == binary.LittleEndian:
		arch = "ppc64le"
	case e.machine == elf.EM_PPC64:
		arch = "ppc64"
	}
	return MuslArch(arch, "")
}
