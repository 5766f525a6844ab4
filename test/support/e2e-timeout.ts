// testTimeout is a global jest option; the e2e project alone needs room to start Redis processes.
jest.setTimeout(60_000);
