// Package spec reads the files a user writes for the StageX frontend: the
// composition spec (which StageX packages to layer, plus image config,
// accounts, files and archives from outside StageX) and the lock (which pins
// every package name to a digest per platform, and may re-pin archives).
//
// Parsing is strict and collects every problem it finds, each located at
// the file:line:column of the key or value at fault, so that a user fixes a
// spec in one round trip instead of one error at a time. Nothing here talks
// to a registry or to BuildKit: the package turns bytes into checked values
// and names into pinned references, and the frontend does the rest.
//
// Everything is deterministic: maps are walked in sorted order, errors and
// warnings are sorted by position, and no clock or environment is read.
package spec
