// Package config is pbxbridge's one typed configuration: file plus environment, defaults,
// validation that names the field at fault.
//
// Status: to be built with the Asterisk issue.
package config
