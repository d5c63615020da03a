// Framing lives in the runtime (generic strided copies); re-exported for the audio modules.
export { asStrided, windowedFrames, frameSignal } from '../../runtime/index.js';
