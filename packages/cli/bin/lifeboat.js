#!/usr/bin/env node
// Checked-in launcher so that npm can link the bin before the TypeScript build has run.
import '../dist/main.js';
