// Package netguard keeps a node's HTTP listener serving when the process
// runs short of file descriptors, as under a flood of idle connections.
//
// RaiseFileLimit lifts the soft RLIMIT_NOFILE to the hard limit at start-up
// and says what it was. Limit wraps a listener so that Accept waits out
// "too many open files" (EMFILE, ENFILE) and other temporary errors with a
// backoff, as net/http's Server does, instead of handing them to the server
// (fasthttp, under fiber, treats them as permanent and stops serving, which
// ends the process); and so that at most a set number of accepted
// connections are open at once. Connections over that number are not
// accepted: they wait in the kernel's listen backlog, costing the process
// no descriptor, until an accepted one closes.
package netguard
