package storetest

// destinationTests test store.Destinations.
var destinationTests = []test{}
