mod scoring;
