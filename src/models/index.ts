export { GenreClassifier, GENRES, type ClassifierConfig } from './classifier.js';
export { CoverGenerator, COVER_SIZE, type GeneratorConfig } from './generator.js';
