export type { ConfigSources, NodeConfig, OptionSpec, OptionType } from './config.js';
export { configOptions, defaultConfig, envName, flagName, loadConfig, parseOptionValue, validateConfig } from './config.js';
export { VERSION, startEmbeddedNode, startNode } from './node.js';
export type { RunningNode, StartOptions } from './node.js';
